"""From the load flags as typed to an engine `SessionConfig` and `ScenarioSpec`, validated up
front. `_plan` reads the parsed command line into `LoadFlags`; nothing here sees argparse."""

from __future__ import annotations

import dataclasses
import math
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from ...engine import HttpVersion, RetireAt, ReuseMode, SessionConfig, Stage
from ...engine.control import ScenarioSpec
from ...engine.durations import DurationError, parse_duration
from ...engine.files import InputFileError, input_file_problem, read_input_file
from ...engine.hosts import url_problem
from ...engine.phrases import shown_url
from ...engine.redact import add_header_secrets, add_secrets
from ...engine.runbook import RunbookOptions
from ...engine.session.scenario import (
    DEFAULT_EXPECTED_STATUS,
    TOKEN,
    check_header,
    parse_status_ranges,
)
from ..format import counted
from ._args import LOCAL_WORKERS_PER_CORE
from ._errors import UsageError
from ._mix import mix_weights
from ._network import apply_network_options
from ._request_log import apply_request_log_option
from ._target_lists import TargetListFlags, target_list_spec

if TYPE_CHECKING:
    from ...engine.control import WorkerPool


@dataclass(frozen=True)
class Phase:
    reuse_mode: ReuseMode
    duration: float


@dataclass(frozen=True)
class LoadFlags:
    """The flags `run`, `console` and `loadt` share, as the user typed them (a command without
    a flag keeps its default here)."""

    targets: tuple[str, ...] = ()
    url: str | None = None
    concurrency: int = 10
    duration: str | None = None
    default_duration: str | None = None  # the command's -d when none is given
    warm_up: str = "0s"
    stages: str | None = None
    rate: float | None = None
    max_vus: int | None = None
    phases: str | None = None
    retire_at: str = "iteration"
    grace: str = "5s"
    http1: bool = False
    http2: bool = False
    h2c: bool = False
    http3: bool = False
    h2_connections: int = 1
    reuse: str = "shared"
    max_idle: int | None = None
    timeout: str = "30s"
    connect_timeout: str = "10s"
    max_body: str = "64MiB"
    max_header_size: str = "1MiB"
    follow_redirects: int | None = None
    insecure: bool = False
    header: tuple[str, ...] = ()
    method: str = "GET"
    body: str | None = None
    expect_status: str | None = None
    var: tuple[str, ...] = ()
    label: tuple[str, ...] = ()
    iterations: int | None = None
    fail_fast: bool = False
    scopes: tuple[str, ...] = ()
    workers: str = "1"
    cluster: str = "local"
    pin: bool = True
    proxy: str | None = None
    unix_socket: str | None = None
    targets_file: str | None = None  # --targets FILE|-
    targets_order: str = "round-robin"
    log_requests: str | None = None
    mix: str | None = None


@dataclass(frozen=True)
class LoadPlan:
    spec: ScenarioSpec
    config: SessionConfig
    phases: tuple[Phase, ...] = ()
    duration_given: float | None = None  # -d as typed: it caps a runbook's own phases
    workers: int = 1  # --workers: engine processes (or Ray actors) sharing the load
    cluster: str = "local"  # --cluster: local, ray, or ray://HOST:PORT
    pin: bool = True  # --no-pin: local workers are not pinned to a core each


def duration(text: str, flag: str) -> float:
    try:
        return parse_duration(text)
    except DurationError as exc:
        raise UsageError(f"{flag}: {exc}") from None


SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "k": 1024,
    "kib": 1024,
    "m": 1024**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gib": 1024**3,
}
MAX_SIZE = 16 * 1024**3
SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]*)")


def parse_size(text: str, flag: str) -> int:
    """Bytes in `10MB`, `512KiB`, `1048576` (kB/MB/GB are powers of 1000; KiB, K are 1024)."""
    match = SIZE.fullmatch(text.strip())
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in SIZE_UNITS:
        raise UsageError(f"{flag}: {text!r} is not a size (try 10MB, 512KiB, 1048576)")
    size = float(match.group(1)) * SIZE_UNITS[unit]
    if size > MAX_SIZE:  # infinity too: 400 digits are a float overflow
        raise UsageError(f"{flag}: {text!r} is more than the maximum of 16GiB")
    return int(size)


def limits(connect_timeout: str, max_body: str) -> tuple[float, int]:
    """--connect-timeout and --max-body, the same on every command that loads."""
    connect = duration(connect_timeout, "--connect-timeout")
    if connect <= 0:
        raise UsageError("--connect-timeout must be more than 0")
    return connect, parse_size(max_body, "--max-body")


def parse_stages(text: str) -> tuple[Stage, ...]:
    stages = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        length, sep, target = part.rpartition(":")
        if not sep:
            raise UsageError(f"--stages: {part!r} is not DURATION:TARGET (e.g. 30s:50)")
        try:
            level = float(target)
        except ValueError:
            raise UsageError(f"--stages: target {target!r} in {part!r} is not a number") from None
        if level < 0:
            raise UsageError(f"--stages: target in {part!r} cannot be negative")
        if not math.isfinite(level) or level > 1_000_000:
            raise UsageError(f"--stages: target in {part!r} is not a number up to 1,000,000")
        stages.append(Stage(duration(length, "--stages"), level))
    if not stages:
        raise UsageError("--stages: give at least one DURATION:TARGET, e.g. 30s:50")
    if sum(stage.duration for stage in stages) <= 0:
        raise UsageError("--stages: the stages last 0s; give at least one a duration")
    return tuple(stages)


def parse_phases(text: str) -> tuple[Phase, ...]:
    phases = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        mode, sep, length = part.partition(":")
        if not sep:
            raise UsageError(f"--phases: {part!r} is not MODE:DURATION (e.g. shared:30s)")
        try:
            reuse = ReuseMode(mode.strip())
        except ValueError:
            modes = ", ".join(m.value for m in ReuseMode)
            raise UsageError(f"--phases: unknown reuse mode {mode!r} (use {modes})") from None
        seconds = duration(length, "--phases")
        if seconds <= 0:
            raise UsageError(f"--phases: {part!r} lasts 0s; a phase needs a duration")
        phases.append(Phase(reuse, seconds))
    if not phases:
        raise UsageError("--phases: give at least one MODE:DURATION, e.g. shared:30s")
    return tuple(phases)


def parse_headers(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    headers = []
    for value in values:
        name, sep, content = value.partition(":")
        if not sep or not name.strip() or any(c in name for c in " \t\r\n"):
            raise UsageError(f"--header: {value!r} is not 'Name: value'")
        try:
            check_header(name.strip(), content.strip())
        except ValueError as exc:
            raise UsageError(f"--header: {exc}") from None
        if not content.isascii():
            shown = content.strip()
            raise UsageError(f"--header: {name.strip()}: a value must be ASCII (got {shown!r})")
        headers.append((name.strip(), content.strip()))
    add_header_secrets(headers)
    return tuple(headers)


def parse_vars(values: tuple[str, ...]) -> dict[str, object]:
    result: dict[str, object] = {}
    for value in values:
        key, sep, content = value.partition(":")
        if not sep or not key:
            raise UsageError(f"--var: {value!r} is not key:value")
        result[key] = content
    return result


def http_version(flags: LoadFlags, url_scheme: str | None) -> HttpVersion:
    if flags.http3:
        return http3_version(flags, url_scheme)
    if flags.h2c:
        if url_scheme == "https":
            raise UsageError("--h2c is HTTP/2 without TLS; for https:// use --http2")
        return HttpVersion.HTTP2
    if flags.http2:
        return HttpVersion.HTTP2
    if flags.http1:
        return HttpVersion.HTTP1
    return HttpVersion.AUTO


def http3_version(flags: LoadFlags, url_scheme: str | None) -> HttpVersion:
    """--http3, when it can work: an https:// target, direct, and aioquic installed."""
    if url_scheme == "http":
        raise UsageError("--http3 is QUIC, always encrypted: give an https:// URL")
    if flags.proxy or flags.unix_socket:
        raise UsageError("--http3 goes direct over UDP: not with --proxy or --unix-socket")
    import importlib.util

    if importlib.util.find_spec("aioquic") is None:
        raise UsageError("--http3 needs aioquic: pip install 'loadscope[http3]'")
    return HttpVersion.HTTP3


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def scenario_spec(flags: LoadFlags, env: dict[str, str] | None = None) -> ScenarioSpec:
    targets = list(flags.targets)
    if flags.url:
        targets.insert(0, flags.url)
    if flags.targets_file is not None:  # --targets FILE|-
        listed = TargetListFlags(
            flags.targets_file, flags.targets_order, tuple(targets), flags.body, flags.method,
            bool(flags.var), flags.workers,
        )  # fmt: skip
        status = _expected_status(flags.expect_status)
        return target_list_spec(listed, parse_headers(flags.header), status)
    for target in targets:
        if "://" in target and not is_url(target):
            raise UsageError(f"{target}: only http:// and https:// URLs can be loaded")
    urls = [t for t in targets if is_url(t)]
    books = [t for t in targets if not is_url(t)]
    headers = parse_headers(flags.header)
    variables = parse_vars(flags.var)
    if not targets:
        raise UsageError(
            "give a runbook or a URL to load, e.g. loadscope run http://127.0.0.1:8080/"
        )
    if urls and books:
        raise UsageError("give runbooks or one URL, not both")
    if len(urls) > 1:
        raise UsageError("give one URL (for several requests, write a runbook)")
    header_size = parse_size(flags.max_header_size, "--max-header-size")
    if header_size < 1:
        raise UsageError("--max-header-size must be at least 1 byte")
    if urls and flags.mix is not None:
        raise UsageError("--mix weighs runbooks; give two or more runbooks, not a URL")
    if urls:
        if variables:
            raise UsageError("--var sets runbook vars; a URL has none (use --header or --body)")
        if flags.fail_fast or flags.scopes:
            raise UsageError("--fail-fast and --scopes are for runbooks; a URL is one request")
        return ScenarioSpec(
            max_header_size=header_size,
            max_redirects=flags.follow_redirects,
            url=_checked_url(urls[0]),
            method=_checked_method(flags.method),
            headers=headers,
            body=_body(flags.body),
            vars=variables,
            expect_status=_expected_status(flags.expect_status),
        )
    if flags.body is not None or flags.method.upper() != "GET":
        raise UsageError("-X/--method and --body are for the URL form; runbooks set their own")
    if flags.follow_redirects is not None:
        raise UsageError(
            "--follow-redirects is for the URL form; runbooks follow up to 10 redirects, as runn"
        )
    if flags.expect_status is not None:
        raise UsageError(
            "--expect-status is for the URL form; in a runbook a status fails only when a "
            "`test` says so"
        )
    check_books(books)
    books = labelled(books, flags.label, env)
    options = RunbookOptions(fail_fast=flags.fail_fast, scopes=scope_set(flags.scopes))
    return ScenarioSpec(
        runbooks=tuple(books),
        headers=headers,
        vars=variables,
        env=env or {},
        runbook_options=options,
        max_header_size=header_size,
        mix=mix_weights(flags.mix, len(books)),
    )


def scope_set(values: tuple[str, ...]) -> frozenset[str]:
    """`--scopes read:parent,read:remote` (repeatable too), as runn's string slice takes it."""
    return frozenset(part.strip() for value in values for part in value.split(",") if part.strip())


def labelled(books: list[str], labels: tuple[str, ...], env: dict[str, str] | None) -> list[str]:
    """The runbooks `--label` selects (all without it); none is bad input."""
    if not labels:
        return books
    from ...engine.runbook import RunbookError, select_by_labels

    try:
        chosen = select_by_labels(books, labels, env=env)
    except RunbookError as exc:
        raise UsageError(str(exc)) from None
    if not chosen:
        wanted = " or ".join(f"({label})" for label in labels)
        raise UsageError(f"--label: no runbook has the labels {wanted}")
    return chosen


def iterations(count: int | None, warm_up_s: float = 0.0) -> int | None:
    """The cap on iterations; a warm-up beside it is refused, for the warm-up's iterations would
    be spent from the N and then dropped from the report."""
    if count is not None and count < 1:
        raise UsageError("--iterations must be at least 1")
    if count is not None and warm_up_s > 0:
        raise UsageError(
            "--iterations N counts every iteration, so it runs no warm-up; drop --warm-up "
            "(or give --warm-up 0s)"
        )
    return count


def check_books(books: list[str] | tuple[str, ...]) -> None:
    for book in books:
        if not book.strip():
            raise UsageError("an empty argument where a runbook file or a URL goes")
        if "://" in book:
            shown = shown_url(book)
            raise UsageError(f"{shown}: a URL, not a runbook file (`loadscope run URL` loads one)")
        problem = input_file_problem(book)
        if problem == "no such file":
            hint = "" if book.endswith((".yml", ".yaml")) else f" (a URL? {_as_url(book)})"
            raise UsageError(f"{book}: no such runbook file{hint}")
        if problem == "a directory":
            raise UsageError(f"{book}: a directory, not a runbook file")
        if problem:
            raise UsageError(f"{book}: cannot be a runbook: {problem}")


def _as_url(text: str) -> str:
    """`http:/host/` or `http:host` as the URL it was meant to be; a bare `host:port` gets
    http://."""
    scheme, sep, rest = text.partition(":")
    if sep and scheme.lower() in ("http", "https"):
        return f"{scheme.lower()}://{rest.lstrip('/')}"
    return f"http://{text}"


def _checked_url(url: str) -> str:
    problem = url_problem(url)
    if problem:
        raise UsageError(f"invalid URL {shown_url(url)!r}: {problem}")
    parsed = httpx.URL(url)
    add_secrets([parsed.password] if parsed.password else [])
    return url


def _expected_status(text: str | None) -> str:
    if text is None:
        return DEFAULT_EXPECTED_STATUS
    try:
        parse_status_ranges(text)
    except ValueError as exc:
        raise UsageError(f"--expect-status: {exc}") from None
    return text.replace(" ", "")


def _checked_method(method: str) -> str:
    if not TOKEN.fullmatch(method):
        raise UsageError(f"-X/--method: {method!r} is not an HTTP method")
    return method.upper()


def _body(body: str | None) -> bytes | None:
    if body is None:
        return None
    if body.startswith("@"):
        try:
            return read_input_file(body[1:])
        except InputFileError as exc:
            raise UsageError(f"--body: cannot read {body[1:]}: {exc}") from None
    return body.encode("utf-8", "surrogateescape")  # argv bytes that are not UTF-8, as given


def run_duration(flags: LoadFlags, stages: tuple[Stage, ...]) -> float | None:
    """-d, else the stages' total (None here), else the command's default (None: until stopped)."""
    if flags.duration is not None and not flags.duration.strip():
        raise UsageError("-d/--duration: empty; give a duration like 30s")
    text = flags.duration or (None if stages else flags.default_duration)
    if text is None:
        return None
    seconds = duration(text, "-d/--duration")
    if seconds <= 0:
        raise UsageError("-d/--duration must be more than 0")
    return seconds


def session_config(flags: LoadFlags, spec: ScenarioSpec) -> SessionConfig:
    concurrency = flags.concurrency
    if concurrency < 0:
        raise UsageError("-c/--concurrency cannot be negative")
    if flags.rate is not None and flags.rate <= 0:
        raise UsageError("--rate must be more than 0 iterations per second")
    if flags.max_vus is not None and flags.max_vus < 1:
        raise UsageError("--max-vus must be at least 1")
    if flags.max_vus is not None and flags.rate is None:
        raise UsageError("--max-vus is for the open model; add --rate R")
    if flags.max_idle is not None and flags.max_idle < 1:
        raise UsageError("--max-idle must be at least 1")
    if flags.h2_connections < 1:
        raise UsageError("--h2-connections must be at least 1")
    stages = parse_stages(flags.stages) if flags.stages is not None else ()
    run_for = run_duration(flags, stages)
    timeout = duration(flags.timeout, "--timeout")
    if timeout <= 0:
        raise UsageError("--timeout must be more than 0")
    scheme = httpx.URL(spec.url).scheme if spec.url else None
    connect_timeout, max_body = limits(flags.connect_timeout, flags.max_body)
    warm_up = duration(flags.warm_up, "--warm-up")
    return SessionConfig(
        concurrency=concurrency,
        duration=run_for,
        warm_up=warm_up,
        rate=flags.rate,
        max_vus=flags.max_vus,
        stages=stages,
        http_version=http_version(flags, scheme),
        h2_connections=flags.h2_connections,
        reuse_mode=ReuseMode(flags.reuse),
        timeout=timeout,
        insecure=flags.insecure,
        retire_at=RetireAt(flags.retire_at),
        stop_grace=duration(flags.grace, "--grace"),
        max_idle_per_origin=flags.max_idle,
        max_iterations=iterations(flags.iterations, warm_up),
        connect_timeout=connect_timeout,
        max_body=max_body,
    )


def load_plan(flags: LoadFlags, env: dict[str, str] | None = None) -> LoadPlan:
    spec = scenario_spec(flags, env)
    config = session_config(flags, spec)
    apply_network_options(config, flags.proxy, flags.unix_socket)
    apply_request_log_option(config, flags.log_requests)
    plan = LoadPlan(spec, config, duration_given=config.duration if flags.duration else None)
    if flags.phases is not None:
        plan = use_phases(plan, parse_phases(flags.phases))
    check_one_length(flags)
    return with_workers(plan, flags.workers, flags.cluster, pin=flags.pin)


def check_one_length(flags: LoadFlags) -> None:
    """One rule: --stages and --phases set the run's length; -d beside them is bad input."""
    if flags.duration is None:
        return
    for flag, value in (("stages", flags.stages), ("phases", flags.phases)):
        if value is not None:
            raise UsageError(
                f"-d/--duration and --{flag} both set the length: the {flag} last their total; "
                "drop -d"
            )


def use_phases(plan: LoadPlan, phases: tuple[Phase, ...]) -> LoadPlan:
    """A/B phases of connection reuse: they set the first mode and are the run's duration."""
    if plan.config.stages:
        raise UsageError("--phases and --stages do not combine: phases hold the load fixed")
    config = dataclasses.replace(
        plan.config,
        reuse_mode=phases[0].reuse_mode,
        duration=sum(p.duration for p in phases),
    )
    return dataclasses.replace(plan, config=config, phases=phases)


def adopt_runbook_phases(plan: LoadPlan, scenario: object) -> LoadPlan:
    """Phases from a runbook's `x-loadscope` apply when the command line gives none."""
    phases = getattr(scenario, "phases", None)
    if not phases or plan.phases:
        return plan
    plan = use_phases(plan, tuple(Phase(ReuseMode(mode), seconds) for mode, seconds in phases))
    if plan.duration_given is None:
        return plan
    total = plan.config.duration or 0.0  # -d on the command line wins: the run stops there
    if plan.duration_given < total:
        print(
            f"loadscope: -d {plan.duration_given:g}s stops the runbook's phases "
            f"({total:g}s in all) early",
            file=sys.stderr,
        )
    config = dataclasses.replace(plan.config, duration=min(total, plan.duration_given))
    return dataclasses.replace(plan, config=config)


MAX_WORKERS = 1024  # Ray actors across a cluster; an engine process each


def available_cores() -> int:
    """The cores this process may run on (the worker pools' count: imported only when asked,
    with their multiprocessing)."""
    from ...engine.control import available_cores as cores

    return cores()


def parse_workers(text: str, cluster: str = "local") -> int:
    if text == "1":  # the default: this process alone, and no cores to count
        return 1
    if text == "auto":
        return available_cores()
    try:
        count = int(text)
    except ValueError:
        raise UsageError(f"--workers: {text!r} is not a number or auto") from None
    if count < 1:
        raise UsageError("--workers must be 1 or more (or auto)")
    if count > MAX_WORKERS:
        raise UsageError(f"--workers: {count:,} is more than the maximum {MAX_WORKERS:,}")
    cores = available_cores()
    local_limit = LOCAL_WORKERS_PER_CORE * cores
    if cluster == "local" and count > local_limit:
        raise UsageError(
            f"--workers: {count:,} processes on {counted(cores, 'core')} would only contend; "
            f"auto picks {cores} (one per core, the most this machine runs well), and at most "
            f"{local_limit} ({LOCAL_WORKERS_PER_CORE} per core) are allowed here; for more, "
            "--cluster ray"
        )
    return count


def with_workers(plan: LoadPlan, workers: str, cluster: str, *, pin: bool) -> LoadPlan:
    cluster = cluster or "local"
    plan = dataclasses.replace(
        plan, cluster=cluster, workers=parse_workers(workers, cluster), pin=pin
    )
    if plan.cluster != "local":
        worker_pool_for(plan)  # a bad --cluster (or Ray missing) is exit 2 before any load
    return plan


def split(plan: LoadPlan) -> bool:
    """Whether the run goes through worker processes (or Ray actors) at all."""
    return plan.workers > 1 or plan.cluster != "local"


def worker_pool_for(plan: LoadPlan) -> WorkerPool:
    from ...engine.control import ClusterError, worker_pool

    try:
        return worker_pool(plan.cluster, pin=plan.pin)
    except ClusterError as exc:
        raise UsageError(str(exc)) from None
