"""runn's `--runner`, `--overlay` and `--underlay`: a top runbook's YAML tree, changed before it
is parsed, as runn changes its book.

In runn's order: each `--runner KEY:DSN` sets that runner; each overlay, in the order given,
lays its values over the runbook; the underlays lay theirs under it, the first given lowest.
- `runners:` and `vars:` merge key by key (shallow): an overlay's key wins, an underlay's only
  fills a key the runbook lacks;
- `steps:` join: an overlay's after the runbook's, an underlay's before (map and list steps do
  not mix);
- an overlay sets `desc`, `if`, `loop`, `concurrency`, `interval` and `skipTest` to its own,
  absent ones too, as runn does; an underlay gives `desc`, `if` and `interval` only to a runbook
  that has none.
Included runbooks are read as they are: runn lays only the runbooks it runs.
"""

from __future__ import annotations

from collections.abc import Callable

from ._errors import Location, RunbookError
from ._options import RunbookOptions
from ._yaml import Source, YMap, YNode, YScalar, YSeq, kind_of

ReadLayer = Callable[[str, str], YMap]  # (path, flag) -> the layer's root map
OVERLAY_SETS = ("desc", "if", "loop", "concurrency", "interval", "skipTest", "debug")
UNDERLAY_FILLS = ("desc", "if", "interval")
MERGED = ("runners", "vars")


def layer_book(
    root: YNode | None, display: str, options: RunbookOptions, read_layer: ReadLayer
) -> YNode | None:
    """`root` with the options' runners, overlays and underlays applied."""
    if not isinstance(root, YMap):
        return root  # parse_book says what is wrong with it
    tree = root
    for key, dsn in options.runners:
        tree = _with_runner(tree, key, dsn)
    for path in options.overlays:
        _need_steps(tree, display, "--overlay", path)
        tree = _overlay(tree, read_layer(path, "--overlay"))
    for path in reversed(options.underlays):
        _need_steps(tree, display, "--underlay", path)
        tree = _underlay(tree, read_layer(path, "--underlay"))
    return tree


def check_layer(tree: YNode | None, path: str, flag: str) -> YMap:
    """A layer file is a runbook map; its `runners`, `vars` and `steps` are maps (or a list)."""
    if not isinstance(tree, YMap):
        raise RunbookError(Location(path), f"{flag}: a layer is a runbook map, not {kind_of(tree)}")
    for key in MERGED:
        node = tree.get(key)
        if node is not None and kind_of(node) not in ("null", "a map"):
            raise RunbookError(node.location, f"{flag}: `{key}` is a map, not {kind_of(node)}")
    return tree


def _with_runner(tree: YMap, key: str, dsn: str) -> YMap:
    source = Source("--runner", f"{key}:{dsn}")
    where = Location("--runner", 0, 0)
    name = YScalar(where, key, key, "", source)
    value = YScalar(where, dsn, dsn, "'", source)
    runners = tree.get("runners")
    items = list(runners.items) if isinstance(runners, YMap) else []
    location = runners.location if runners is not None else where
    return _set(tree, "runners", YMap(location, _put(items, name, value)))


def _need_steps(tree: YMap, display: str, flag: str, path: str) -> None:
    steps = tree.get("steps")
    if not isinstance(steps, YMap | YSeq) or not steps.items:
        raise RunbookError(
            Location(display), f"{flag} {path}: a layer needs a runbook with steps to lay on"
        )


def _overlay(tree: YMap, layer: YMap) -> YMap:
    for key in OVERLAY_SETS:
        node = layer.get(key)
        tree = _drop(tree, key) if node is None else _set(tree, key, node, layer.key_node(key))
    for key in MERGED:
        tree = _merged(tree, layer, key, layer_wins=True)
    return _joined_steps(tree, layer, layer_first=False)


def _underlay(tree: YMap, layer: YMap) -> YMap:
    for key in UNDERLAY_FILLS:
        node = layer.get(key)
        if node is not None and tree.get(key) is None:
            tree = _set(tree, key, node, layer.key_node(key))
    for key in MERGED:
        tree = _merged(tree, layer, key, layer_wins=False)
    return _joined_steps(tree, layer, layer_first=True)


def _merged(tree: YMap, layer: YMap, key: str, *, layer_wins: bool) -> YMap:
    theirs = layer.get(key)
    if not isinstance(theirs, YMap) or not theirs.items:
        return tree
    ours = tree.get(key)
    items = list(ours.items) if isinstance(ours, YMap) else []
    for name, value in theirs.items:
        if layer_wins or not any(k.value == name.value for k, _ in items):
            items = _put(items, name, value)
    location = ours.location if isinstance(ours, YMap) else theirs.location
    return _set(tree, key, YMap(location, items), layer.key_node(key))


def _joined_steps(tree: YMap, layer: YMap, *, layer_first: bool) -> YMap:
    theirs = layer.get("steps")
    if not isinstance(theirs, YMap | YSeq) or not theirs.items:
        return tree
    ours = tree.get("steps")
    assert isinstance(ours, YMap | YSeq)  # _need_steps checked it
    if type(theirs) is not type(ours):
        raise RunbookError(
            theirs.location,
            f"only runbooks of the same type can be layered: these steps are {kind_of(theirs)}, "
            f"the runbook's are {kind_of(ours)}",
        )
    if isinstance(ours, YSeq):
        assert isinstance(theirs, YSeq)
        items = [*theirs.items, *ours.items] if layer_first else [*ours.items, *theirs.items]
        return _set(tree, "steps", YSeq(ours.location, items))
    assert isinstance(theirs, YMap)
    known = {key.value: key for key, _ in ours.items}
    for key, _ in theirs.items:
        if key.value in known:
            first = known[key.value].location
            raise RunbookError(key.location, f"step {key.value!r} is in the runbook too ({first})")
    pairs = [*theirs.items, *ours.items] if layer_first else [*ours.items, *theirs.items]
    return _set(tree, "steps", YMap(ours.location, pairs))


def _put(
    items: list[tuple[YScalar, YNode]], key: YScalar, value: YNode
) -> list[tuple[YScalar, YNode]]:
    """`items` with `key` set to `value`, in place of the same key or at the end."""
    for index, (existing, _) in enumerate(items):
        if existing.value == key.value:
            return [*items[:index], (existing, value), *items[index + 1 :]]
    return [*items, (key, value)]


def _set(tree: YMap, key: str, value: YNode, key_node: YScalar | None = None) -> YMap:
    name = tree.key_node(key) or key_node or YScalar(value.location, key, key, "", _NO_SOURCE)
    return YMap(tree.location, _put(list(tree.items), name, value))


def _drop(tree: YMap, key: str) -> YMap:
    if tree.get(key) is None:
        return tree
    return YMap(tree.location, [(k, v) for k, v in tree.items if k.value != key])


_NO_SOURCE = Source("", "")
