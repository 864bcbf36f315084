"""Parsing a runbook's runners: HTTP endpoints, runners defined by other runbooks, and the
kinds loadscope cannot run (databases, gRPC ...), which get a warning."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ..files import input_file_problem
from ..hosts import NOT_HTTP, url_problem
from ..phrases import shown_url
from ._book_fields import Warn, absent, duration, flag, optional_string
from ._errors import Location, RunbookError
from ._tls_files import cacert_problem, key_pair_problem
from ._yaml import YMap, YNode, YScalar, kind_of, not_set

HTTP_RUNNER_KEYS = frozenset(
    {"endpoint", "timeout", "skipVerify", "cacert", "cert", "key", "useCookie",
     "notFollowRedirect", "multipartBoundary", "trace"}
)  # fmt: skip


HTTP_RUNNER_IGNORED = frozenset({"openapi3", "skipCircularReferenceCheck"})
OPENAPI_SKIPS = frozenset({"skipValidateRequest", "skipValidateResponse"})  # --http-openapi3


TRACE_HEADER = "X-Runn-Trace"
TLS_FILE_KEYS = ("cacert", "cert", "key")


@dataclass(slots=True)
class RunnerSpec:
    name: str
    location: Location
    endpoint: str | None  # None: a runner loadscope cannot run (db, gRPC ...)
    kind: str = "http"
    timeout: float | None = None
    skip_verify: bool = False
    cacert: str | None = None
    cert: str | None = None
    key: str | None = None
    use_cookie: bool | None = None
    follow_redirects: bool = True
    multipart_boundary: str | None = None
    trace: bool | None = None  # send runn's trace header (X-Runn-Trace); None: as the runbook
    trace_header: str = TRACE_HEADER
    host: str | None = None  # the endpoint's own host[:port], when hostRules maps it elsewhere
    server_name: str | None = None  # and its own host name, for TLS (SNI, certificate)
    # A runner defined by another runbook (`path:`, `params:`): a step naming it runs that
    # runbook, with the step's own YAML as `parent.nodes` and `params` as `parent.params`.
    runbook: Path | None = None
    runbook_display: str = ""
    directory: Path | None = None  # the folder of the runbook that defines the runner
    template: YScalar | None = None  # a templated endpoint, rendered at load if it can be
    params: YNode | None = None
    problem: str = ""  # why no step can use it, said where it is defined
    # runn's OpenAPI keys: a runner with its own `openapi3` is not checked by --http-openapi3
    own_openapi3: bool = False
    skip_validate_request: bool = False
    skip_validate_response: bool = False


def parse_runner(
    name: str, location: Location, node: YNode, directory: Path, warn: Warn
) -> RunnerSpec:
    if isinstance(node, YScalar) and node.unset_env and not _is_url(node.text):
        return _emptied_runner(name, node)
    if isinstance(node, YScalar) and isinstance(node.value, str):
        value = node.value.strip()
        if "{{" in value:
            return _templated_runner(name, node)
        if value.startswith(("http://", "https://")):
            return RunnerSpec(name, node.location, _endpoint(value, node))
        return _other_runner(name, location, _kind_of_dsn(value), warn)
    if isinstance(node, YScalar) and node.value is None:
        return _other_runner(name, location, "undefined", warn)
    if not isinstance(node, YMap):
        raise RunbookError(node.location, f"runner `{name}` is a URL or a map, not {kind_of(node)}")
    if node.get("endpoint") is None and node.get("path") is not None:
        return _runbook_runner(name, node, directory)
    if node.get("endpoint") is None:
        kind = "gRPC" if node.get("addr") is not None else (
            "database" if node.get("dsn") is not None else
            "SSH" if node.get("host") is not None or node.get("hostname") is not None else
            "unknown"
        )  # fmt: skip
        return _other_runner(name, location, kind, warn)
    spec = RunnerSpec(name, node.location, None)
    for key_node, _ in node.items:
        key = key_node.value
        if key in HTTP_RUNNER_IGNORED:
            warn(key_node.location, f"`{key}` of runner `{name}` is ignored")
        elif key not in HTTP_RUNNER_KEYS and key not in OPENAPI_SKIPS:
            warn(key_node.location, f"`{key}` is not an HTTP runner key; it is ignored")
    endpoint = node.get("endpoint")
    if not isinstance(endpoint, YScalar) or not isinstance(endpoint.value, str):
        raise RunbookError(endpoint.location, "`endpoint` is a URL", _unset_hint(endpoint))  # type: ignore[union-attr]
    if "{{" in endpoint.value:
        spec.kind, spec.template = TEMPLATED_ENDPOINT, endpoint
    else:
        spec.endpoint = _endpoint(endpoint.value.strip(), endpoint)
    spec.timeout = duration(node.get("timeout"), "timeout")
    spec.skip_verify = flag(node, "skipVerify")
    spec.follow_redirects = not flag(node, "notFollowRedirect")
    if node.get("useCookie") is not None:
        spec.use_cookie = flag(node, "useCookie")
    _tls_files(spec, node, directory, warn)
    spec.multipart_boundary = optional_string(node, "multipartBoundary")
    spec.trace, spec.trace_header = parse_trace(node.get("trace"))
    spec.own_openapi3 = node.get("openapi3") is not None
    spec.skip_validate_request = flag(node, "skipValidateRequest")
    spec.skip_validate_response = flag(node, "skipValidateResponse")
    return spec


def parse_trace(node: YNode | None) -> tuple[bool | None, str]:
    """A runner's `trace: true`, or `trace: {enable: true, headerName: X-Id}`; None: unset."""
    if node is None or absent(node):
        return None, TRACE_HEADER
    if isinstance(node, YScalar) and isinstance(node.value, bool):
        return node.value, TRACE_HEADER
    if isinstance(node, YMap):
        enable = node.get("enable")
        enabled = isinstance(enable, YScalar) and enable.value is True
        return enabled, optional_string(node, "headerName") or TRACE_HEADER
    raise RunbookError(node.location, f"`trace` is true, false or a map, not {kind_of(node)}")


def _kind_of_dsn(value: str) -> str:
    if value.startswith("grpc://"):
        return "gRPC"
    if value.startswith(("cdp://", "chrome://")):
        return "CDP"
    if value.startswith("ssh://"):
        return "SSH"
    return "database"


TEMPLATED_ENDPOINT = "templated endpoint"


def _templated_runner(name: str, node: YScalar) -> RunnerSpec:
    """An endpoint with `{{ }}` in it (`'{{ parent.vars.endpoint }}'`): rendered at load when
    what it reads is known then (`with_endpoint`); else an error once a step uses it (a
    runbook that only runs when included never does)."""
    return RunnerSpec(name, node.location, None, kind=TEMPLATED_ENDPOINT, template=node)


def with_endpoint(spec: RunnerSpec, value: object) -> RunnerSpec:
    """A templated runner with its endpoint rendered (checked as any endpoint is)."""
    assert spec.template is not None
    if not isinstance(value, str):
        raise RunbookError(
            spec.template.location, f"runner `{spec.name}`: the endpoint is not a URL: {value!r}"
        )
    endpoint = _endpoint(value.strip(), spec.template)
    return replace(spec, endpoint=endpoint, kind="http", template=None)


def _runbook_runner(name: str, node: YMap, directory: Path) -> RunnerSpec:
    """`name: {path: other.yml, params: {...}}`: a runner defined by another runbook."""
    path = node.get("path")
    if not isinstance(path, YScalar) or not isinstance(path.value, str) or not path.value.strip():
        raise RunbookError(node.location, f"`path` of runner `{name}` is a runbook file")
    text = path.value.strip()
    file = Path(text) if Path(text).is_absolute() else directory / text
    return RunnerSpec(
        name,
        node.location,
        None,
        kind="runbook",
        runbook=file,
        runbook_display=str(file),
        directory=directory,
        params=node.get("params"),
    )


def _is_url(text: str) -> bool:
    return text.strip().startswith(("http://", "https://"))


def _emptied_runner(name: str, node: YScalar) -> RunnerSpec:
    """A runner whose value an unset `${ENV}` emptied or cut (runn expands it to ""): a step
    that uses it fails, saying why. Its expansion has warned already."""
    text = node.text.strip()
    what = "is empty" if not text else f"is {shown_url(text)!r}, not a URL"
    problem = f"runner `{name}` {what}: {not_set(*node.unset_env)}"
    return RunnerSpec(name, node.location, None, kind="unset", problem=problem)


def _unset_hint(node: YNode | None) -> str:
    """What explains a missing value: the `${ENV}` in it that were not set ("" if none)."""
    if isinstance(node, YScalar) and node.unset_env:
        return not_set(*node.unset_env)
    return ""


def _other_runner(name: str, location: Location, kind: str, warn: Warn) -> RunnerSpec:
    warn(location, f"runner `{name}` is not an HTTP runner ({kind}); steps cannot use it")
    return RunnerSpec(name, location, None, kind=kind)


def _endpoint(value: str, node: YScalar) -> str:
    if "{{" in value:
        raise RunbookError(
            node.location, "templates in runner endpoints are not supported", "use ${ENV}"
        )
    problem = url_problem(value)
    if not problem:
        return value
    hint = _unset_hint(node)
    if problem in (NOT_HTTP, "an empty URL", "no host"):
        message = f"invalid endpoint {shown_url(value)!r}"
        raise RunbookError(node.location, message, hint or "use http://host:port")
    raise RunbookError(node.location, f"invalid endpoint {shown_url(value)!r}: {problem}", hint)


def _tls_files(spec: RunnerSpec, node: YMap, directory: Path, warn: Warn) -> None:
    """`cacert`, `cert` and `key`, each a file that holds what its key says."""
    spec.cacert, spec.cert, spec.key = (_file(node, key, directory) for key in TLS_FILE_KEYS)
    if spec.cacert is not None:
        _raise_if(node, "cacert", spec.cacert, cacert_problem(spec.cacert))
    if (spec.cert is None) != (spec.key is None):
        given = "cert" if spec.key is None else "key"
        missing = "key" if given == "cert" else "cert"
        warn(
            node.get(given).location,  # type: ignore[union-attr]
            f"`{given}` without `{missing}` is ignored, as runn ignores it",
        )
        spec.cert = spec.key = None
    elif spec.cert is not None and spec.key is not None:
        which, problem = key_pair_problem(spec.cert, spec.key)
        if which:
            _raise_if(node, which, spec.cert if which == "cert" else spec.key, problem)


def _raise_if(node: YMap, key: str, path: str, problem: str) -> None:
    if problem:
        text = optional_string(node, key)
        raise RunbookError(node.get(key).location, f"`{key}`: {text}: {problem}")  # type: ignore[union-attr]


def _file(node: YMap, key: str, directory: Path) -> str | None:
    text = optional_string(node, key)
    if text is None:
        return None
    path = directory / text
    problem = input_file_problem(path)
    if problem:
        reason = f"no such file {text}" if problem == "no such file" else f"{text}: {problem}"
        raise RunbookError(node.get(key).location, f"`{key}`: {reason}")  # type: ignore[union-attr]
    return str(path)
