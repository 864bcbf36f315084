"""Which runbooks a `loadt` runs, chosen as runn chooses them: path patterns, `--run`, `--id`,
`--label`, `--shuffle`, `--shard-n`/`--shard-index`, `--sample` and `--random`; and runn's
flags that change how a runbook runs (`--fail-fast`, `--scopes`, `--skip-test`, ...).

loadscope compiles the runbooks once for the whole run, so the choice is made once, before the
load, where runn makes it again for every RunN.
"""

from __future__ import annotations

import glob
import hashlib
import os
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from ...engine.durations import DurationError, parse_duration
from ...engine.runbook import RunbookError, RunbookOptions
from ._errors import UsageError

GRPC_FLAGS = (
    "grpc_no_tls",
    "grpc_proto",
    "grpc_import_path",
    "grpc_buf_dir",
    "grpc_buf_lock",
    "grpc_buf_config",
    "grpc_buf_module",
)


@dataclass(frozen=True)
class RunbookSelection:
    books: tuple[str, ...] = ()  # runn's PATH_PATTERN: files or globs
    run: str | None = None
    id: tuple[str, ...] = ()
    label: tuple[str, ...] = ()
    sample: int = 0
    shuffle: str = "off"
    concurrent: str = "off"
    random: int = 0
    shard_index: int = 0
    shard_n: int = 0
    fail_fast: bool = False
    scopes: tuple[str, ...] = ()
    skip_test: bool = False
    skip_included: bool = False
    host_rules: tuple[str, ...] = ()
    debug: bool = False
    capture: str | None = None
    cache_dir: str | None = None
    retain_cache_dir: bool = False
    wait_timeout: str = "10sec"
    http_openapi3: tuple[str, ...] = ()
    runner: tuple[str, ...] = ()
    overlay: tuple[str, ...] = ()
    underlay: tuple[str, ...] = ()
    grpc_no_tls: bool = False
    grpc_proto: tuple[str, ...] = ()
    grpc_import_path: tuple[str, ...] = ()
    grpc_buf_dir: tuple[str, ...] = ()
    grpc_buf_lock: tuple[str, ...] = ()
    grpc_buf_config: tuple[str, ...] = ()
    grpc_buf_module: tuple[str, ...] = ()

    def runbook_options(self) -> RunbookOptions:
        """The flags that change how each runbook runs, for the runbook engine."""
        _check_capture(self.capture)
        _check_duration(self.wait_timeout, "--wait-timeout")
        return RunbookOptions(
            fail_fast=self.fail_fast,
            scopes=frozenset(split_list(self.scopes)),
            skip_test=self.skip_test,
            host_rules=tuple(host_rules(self.host_rules).items()),
            runners=runner_flags(self.runner),
            overlays=tuple(split_list(self.overlay)),
            underlays=tuple(split_list(self.underlay)),
            concurrent=concurrent_runbooks(self.concurrent),
            openapi3=tuple(openapi_flag(value) for value in split_list(self.http_openapi3)),
        )


def split_list(values: tuple[str, ...]) -> list[str]:
    """A repeatable flag whose values may also be comma-separated (cobra's string slices)."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def host_rules(values: tuple[str, ...]) -> dict[str, str]:
    """`--host-rules 'example.com 127.0.0.1:8080,*.test 127.0.0.1'`: host, a space, address."""
    rules: dict[str, str] = {}
    for rule in split_list(values):
        host, _, address = rule.partition(" ")
        if not host or not address.strip():
            raise UsageError(f"--host-rules: {rule!r} is not 'HOST ADDRESS'")
        rules[host] = address.strip()
    return rules


def runner_flags(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """`--runner req:http://127.0.0.1:8080`: the key, then the DSN after the first colon."""
    runners: dict[str, str] = {}
    for value in split_list(values):
        key, _, dsn = value.partition(":")
        if not key.strip() or not dsn.strip():
            raise UsageError(f"--runner: {value!r} is not KEY:DSN (e.g. req:http://127.0.0.1:8080)")
        runners[key.strip()] = dsn.strip()
    return tuple(runners.items())


def openapi_flag(value: str) -> tuple[str, str]:
    """`--http-openapi3 [KEY:]LOCATION` as runn splits it: no key when there is no colon or
    the location is a URL."""
    if ":" not in value or value.startswith(("http://", "https://", "file://", "github://")):
        return "", value
    key, _, location = value.partition(":")
    return key, location


def select_runbooks(flags: RunbookSelection, env: dict[str, str] | None = None) -> list[str]:
    """The runbooks to run, in runn's order (sorted by path, or as `--id` lists them)."""
    books = expand_patterns(flags.books)
    if flags.run is not None:
        books = _matching(books, flags.run)
    books = _by_id(books, split_list(flags.id)) if flags.id else sorted(books)
    if flags.skip_included:  # as runn: before the shuffle, shards, sample and random
        books = _without_included(books, env)
    books = _shuffled(books, flags.shuffle)
    books = _shard(books, flags.shard_n, flags.shard_index)
    if flags.sample:
        books = _sample(books, flags.sample)
    if flags.random:
        books = _random(books, flags.random)
    return books


def expand_patterns(patterns: tuple[str, ...]) -> list[str]:
    """runn's PATH_PATTERN: each a file or a glob (`**` crosses folders); none may match nothing."""
    found: list[str] = []
    for pattern in patterns:
        if not glob.has_magic(pattern) or "://" in pattern:  # `http://[::1]/` is no pattern
            found.append(pattern)  # a plain path: its own check says what is wrong
            continue
        matches = sorted(
            path for path in glob.glob(pattern, recursive=True) if os.path.isfile(path)
        )
        if not matches:
            raise UsageError(f"{pattern}: no runbook file matches this pattern")
        found += matches
    return list(dict.fromkeys(found))


def _without_included(books: list[str], env: dict[str, str] | None) -> list[str]:
    from ...engine.runbook import skip_included  # the runbook reader, only for --skip-included

    try:
        return skip_included(books, env=env)
    except RunbookError as exc:
        raise UsageError(str(exc)) from None


def _matching(books: list[str], expression: str) -> list[str]:
    try:
        pattern = re.compile(expression)
    except re.error as exc:
        raise UsageError(f"--run: {expression!r} is not a regular expression: {exc}") from None
    chosen = [book for book in books if pattern.search(book)]
    if not chosen:
        raise UsageError(f"--run: no runbook path matches {expression!r}")
    return chosen


def runbook_ids(books: list[str]) -> dict[str, str]:
    """runn's runbook IDs: the SHA-1 of the absolute path's last segments, reversed and joined
    by "/", using as few segments as make every ID unique."""
    reversed_paths = {
        book: list(reversed(Path(os.path.abspath(book)).as_posix().split("/"))) for book in books
    }
    longest = max((len(parts) for parts in reversed_paths.values()), default=0)
    ids: dict[str, str] = {}
    for count in range(1, longest + 1):
        ids = {
            book: hashlib.sha1("/".join(parts[:count]).encode(), usedforsecurity=False).hexdigest()
            for book, parts in reversed_paths.items()
        }
        if len(set(ids.values())) == len(ids):
            break
    return ids


def _by_id(books: list[str], prefixes: list[str]) -> list[str]:
    """`--id`: each prefix picks one runbook, in the order the prefixes are given."""
    ids = runbook_ids(books)
    chosen: list[str] = []
    for prefix in prefixes:
        chosen += [book for book in sorted(books) if ids[book].startswith(prefix)]
    if not chosen:
        raise UsageError(f"--id: no runbook has the id prefix {', '.join(prefixes)}")
    if len(set(chosen)) != len(chosen):
        raise UsageError(f"--id: several runbooks have the id prefix {', '.join(prefixes)}")
    return chosen


def _shuffled(books: list[str], shuffle: str) -> list[str]:
    if shuffle == "off":
        return books
    if shuffle == "on":
        seed: int | None = None
    else:
        try:
            seed = int(shuffle)
        except ValueError:
            raise UsageError('--shuffle: should be "on", "off" or a number for the seed') from None
    shuffled = list(books)
    random.Random(seed).shuffle(shuffled)
    return shuffled


def _shard(books: list[str], count: int, index: int) -> list[str]:
    if count == 0 and index == 0:
        return books
    if count <= 0:
        raise UsageError(f"--shard-n: the number of shards must be more than 0 (got {count})")
    if not 0 <= index < count:
        raise UsageError(f"--shard-index: {index} is not in 0..{count - 1} (--shard-n {count})")
    chosen = books[index::count]
    if not chosen:
        raise UsageError(f"--shard-index {index}: this shard of {count} holds no runbook")
    return chosen


def _sample(books: list[str], count: int) -> list[str]:
    if count < 0:
        raise UsageError(f"--sample must be more than 0 (got {count})")
    return books if len(books) <= count else random.sample(books, count)


def _random(books: list[str], count: int) -> list[str]:
    if count < 0:
        raise UsageError(f"--random must be more than 0 (got {count})")
    return [random.choice(books) for _ in range(count)] if books else []


def _check_capture(directory: str | None) -> None:
    """runn's `--capture DIR` writes run results there: the directory must exist."""
    if directory is None:
        return
    if not os.path.isdir(directory):
        raise UsageError(f"--capture: {directory} is not a directory")


def _check_duration(text: str, flag: str) -> None:
    try:
        parse_duration(text)
    except DurationError as exc:
        raise UsageError(f"{flag}: {exc}") from None


def concurrent_runbooks(text: str) -> int:
    """runn's `--concurrent`: off runs the runbooks in turn (1), on as many at once as Go
    runs goroutines in parallel (GOMAXPROCS: the CPUs usable), N that many."""
    if text == "off":
        return 1
    if text == "on":
        return (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1
        )
    if not text.isdigit():
        raise UsageError('--concurrent: should be "on", "off" or a number')
    if int(text) < 1:
        raise UsageError("--concurrent: the number of runbooks at once must be 1 or more")
    return int(text)


def env_file_values(path: str | None) -> dict[str, str] | None:
    """`--env-file`: KEY=VALUE lines (# comments, `export `, quotes) for ${KEY} in runbooks;
    the environment's own values win, as with godotenv's Load."""
    if path is None:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"--env-file: cannot read {path}: {reason}") from None
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--env-file: {path}:{number}: {line!r} is not KEY=VALUE")
        values[key.strip()] = _unquoted(value.strip())
    return {key: os.environ.get(key, value) for key, value in values.items()}


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value.split(" #", 1)[0].rstrip()


def note_ignored(selection: RunbookSelection) -> None:
    """Flags loadscope accepts as runn does but that change nothing here, said once each."""
    notes = []
    if any(getattr(selection, name) for name in GRPC_FLAGS):
        notes.append("--grpc-* flags apply to gRPC runners, which loadscope does not run")
    if selection.debug:
        notes.append("--debug is runn's debug output; use a runbook's dump: for requests")
    if selection.cache_dir or selection.retain_cache_dir:
        notes.append("--cache-dir is runn's cache of remote runbooks; loadscope reads local files")
    for note in notes:
        print(f"loadscope: {note}; ignored", file=sys.stderr)
