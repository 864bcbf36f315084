"""Which steps' response bodies an expression reads, decided at load.

The transport keeps a response body only when the request asks for it
(`request.extensions["loadscope.keep_body"]`). A body is read through `current`, `previous` or
`steps[...]`, unless what follows only looks at its status, headers or cookies. What cannot be
traced to one step (`parent.steps`, a computed index, a whole `steps`) reads every body.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._ast import Call, Literal, Member, Name, Node
from ._expression import walk

RESULT_ROOTS = frozenset({"current", "previous", "steps", "parent"})
NOT_BODY = frozenset({"status", "headers", "cookies", "outcome"})


@dataclass(frozen=True, slots=True)
class BodyRead:
    """`current`, `previous`, a step by key or index (`step`), or `any` step at all."""

    which: str
    step: int | str | None = None


def body_reads(tree: Node) -> list[BodyRead]:
    reads: list[BodyRead] = []
    seen_chains: set[int] = set()
    for node in walk(tree):
        if id(node) in seen_chains:
            continue
        if isinstance(node, Call) and node.func == "len" and _bare_steps(node):
            seen_chains.update(id(arg) for arg in node.args)
            continue
        if not isinstance(node, Member | Name):
            continue
        root, keys = _chain(node)
        seen_chains.update(id(part) for part in _chain_nodes(node))
        if isinstance(root, Name) and root.name in RESULT_ROOTS:
            read = _read(root.name, keys)
            if read is not None:
                reads.append(read)
    return reads


def _bare_steps(call: Call) -> bool:
    return len(call.args) == 1 and isinstance(call.args[0], Name) and call.args[0].name == "steps"


def _chain(node: Node) -> tuple[Node, list[object]]:
    """`steps[1].res.status` -> (Name steps, [1, "res", "status"]); a computed key is None."""
    keys: list[object] = []
    while isinstance(node, Member):
        keys.insert(0, node.key.value if isinstance(node.key, Literal) else None)
        node = node.obj
    return node, keys


def _chain_nodes(node: Node) -> list[Node]:
    parts: list[Node] = []
    while isinstance(node, Member):
        parts.append(node)
        node = node.obj
    parts.append(node)
    return parts


def _read(root: str, keys: list[object]) -> BodyRead | None:
    if root == "parent":
        return BodyRead("any") if keys[:1] in (["steps"], [None]) or not keys else None
    if root == "steps":
        if not keys or keys[0] is None:
            return BodyRead("any")
        step = keys[0]
        rest = keys[1:]
        target = BodyRead("step", step) if isinstance(step, int | str) else BodyRead("any")
    else:
        rest = keys
        target = BodyRead(root)
    if rest[:1] == ["res"] and len(rest) > 1 and rest[1] in NOT_BODY:
        return None
    if rest and rest[0] in NOT_BODY:
        return None
    return target
