"""runn's `--http-openapi3 [KEY:]FILE`: HTTP requests and responses checked against an OpenAPI v3
document, a subset of what runn's validator checks:
- the request's path (under one of the document's `servers`) and method are an operation;
- the response's status is one the operation declares (`200`, `2XX` or `default`);
- a JSON response body matches the declared schema: `type` (and 3.0's `nullable`),
  `properties`, `required`, `items`, `enum`, `allOf`/`anyOf`/`oneOf` and local `$ref`s.
A request that fails is not sent; either failure fails its step, as in runn.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import yaml

from ..files import InputFileError, read_input_file
from ..session.scenario import IterationFailed
from ._errors import RunbookError

if TYPE_CHECKING:
    from ..transport import RawRequest

FLAG = "--http-openapi3"
METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_JSON_TYPES = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "null": (type(None),),
    "number": (int, float),
    "integer": (int,),
}


@dataclass(frozen=True, slots=True)
class _Route:
    template: str
    pattern: re.Pattern[str]
    operations: Mapping[str, Any]  # method (lower case) -> operation


class OpenApiDocument:
    """One OpenAPI v3 document, read and checked once; `problem_*` say what does not match."""

    def __init__(self, location: str, document: Mapping[str, Any]) -> None:
        self.location = location
        self._document = document
        self._routes = sorted(_routes(location, document), key=lambda r: r.template.count("{"))
        self._bases = _server_paths(document)

    @classmethod
    def read(cls, location: str) -> OpenApiDocument:
        """The document at `location` (a local YAML or JSON file); RunbookError if it is not a
        usable OpenAPI v3 document."""
        if location.startswith(("http://", "https://")):
            raise RunbookError(FLAG, f"{location}: only a local file is supported")
        try:
            text = read_input_file(Path(location.removeprefix("file://"))).decode("utf-8")
            document = yaml.load(text, Loader=_Loader)
        except (InputFileError, OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise RunbookError(FLAG, f"{location}: cannot read it: {_reason(exc)}") from None
        except RecursionError:
            raise RunbookError(FLAG, f"{location}: nested too deeply") from None
        if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3"):
            raise RunbookError(FLAG, f"{location}: not an OpenAPI v3 document (no `openapi: 3.x`)")
        if not isinstance(document.get("paths"), dict):
            raise RunbookError(FLAG, f"{location}: the document has no `paths` map")
        try:
            _check_refs(location, document, document)
        except RecursionError:
            raise RunbookError(FLAG, f"{location}: nested too deeply (a cycle?)") from None
        return cls(location, document)

    def operation(self, method: str, path: str) -> tuple[str, Mapping[str, Any]] | str:
        """The route's template and the operation for `method path`, or what is wrong."""
        for base in self._bases:
            if not path.startswith(base):
                continue
            rest = path[len(base) :] or "/"
            for route in self._routes:
                if route.pattern.fullmatch(rest):
                    operation = route.operations.get(method.lower())
                    if operation is None:
                        return f"{method} {route.template}: the document has no such operation"
                    return route.template, operation
        return f"{method} {path}: no path of the document matches"

    def response_problem(
        self, operation: Mapping[str, Any], status: int, content_type: str, body: bytes
    ) -> str | None:
        # YAML reads an unquoted `200:` as a number
        responses = {str(code): value for code, value in (operation.get("responses") or {}).items()}
        declared = (
            responses.get(str(status))
            or responses.get(f"{status // 100}XX")
            or responses.get(f"{status // 100}xx")
            or responses.get("default")
        )
        if not isinstance(declared, dict):
            return f"response status {status} is not declared"
        declared = self._resolved(declared)
        content = declared.get("content")
        if not isinstance(content, dict) or not content:
            return None
        media = content_type.split(";", 1)[0].strip().lower()
        declared_media = _media_for(content, media)
        if declared_media is None:
            if not body:
                return None
            return f"response content type {media or '(none)'} is not declared for {status}"
        schema = declared_media.get("schema") if isinstance(declared_media, dict) else None
        if schema is None or not _is_json(media):
            return None
        try:
            value = json.loads(body)
        except ValueError:
            return "response body is not JSON"
        problem = self._schema_problem(schema, value, "body")
        return f"response {problem}" if problem else None

    def _resolved(self, node: Any) -> Any:
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 32:
            node, seen = _pointer(self._document, node["$ref"]), seen + 1
        return node

    def _schema_problem(self, schema: Any, value: Any, where: str) -> str | None:
        schema = self._resolved(schema)
        if not isinstance(schema, dict):
            return None
        if value is None and schema.get("nullable") is True:
            return None
        problem = self._type_problem(schema, value, where)
        if problem:
            return problem
        if "enum" in schema and isinstance(schema["enum"], list) and value not in schema["enum"]:
            return f"{where}: {_short(value)} is not one of {_short(schema['enum'])}"
        return self._combined_problem(schema, value, where) or self._parts_problem(
            schema, value, where
        )

    def _type_problem(self, schema: Mapping[str, Any], value: Any, where: str) -> str | None:
        wanted = schema.get("type")
        if wanted is None:
            return None
        names = wanted if isinstance(wanted, list) else [wanted]
        if any(_is_type(value, name) for name in names):
            return None
        return f"{where}: want {' or '.join(map(str, names))}, got {_type_name(value)}"

    def _combined_problem(self, schema: Mapping[str, Any], value: Any, where: str) -> str | None:
        for part in schema.get("allOf") or []:
            problem = self._schema_problem(part, value, where)
            if problem:
                return problem
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if not isinstance(options, list) or not options:
                continue
            fits = sum(self._schema_problem(option, value, where) is None for option in options)
            if fits == 0 or (key == "oneOf" and fits > 1):
                return f"{where}: matches {fits} of the {len(options)} schemas of {key}"
        return None

    def _parts_problem(self, schema: Mapping[str, Any], value: Any, where: str) -> str | None:
        if isinstance(value, dict):
            for name in schema.get("required") or []:
                if name not in value:
                    return f"{where}: the required property {name!r} is missing"
            properties = schema.get("properties") or {}
            for name, child in properties.items():
                if name in value:
                    problem = self._schema_problem(child, value[name], f"{where}.{name}")
                    if problem:
                        return problem
        if isinstance(value, list) and "items" in schema:
            for index, item in enumerate(value):
                problem = self._schema_problem(schema["items"], item, f"{where}[{index}]")
                if problem:
                    return problem
        return None


def _routes(location: str, document: Mapping[str, Any]) -> list[_Route]:
    routes = []
    for template, item in document["paths"].items():
        if not isinstance(item, dict):
            raise RunbookError(FLAG, f"{location}: path {template!r} is not a map")
        operations = {m: op for m, op in item.items() if m in METHODS and isinstance(op, dict)}
        pieces = re.split(r"(\{[^}/]+\})", str(template))
        pattern = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in pieces)
        routes.append(_Route(str(template), re.compile(pattern), operations))
    return routes


def _server_paths(document: Mapping[str, Any]) -> list[str]:
    """The path part of each server URL (`https://api.test/v1` -> `/v1`), longest first; the
    document's paths are under one of them, or under `/` when it names none."""
    paths = []
    for server in document.get("servers") or []:
        url = server.get("url") if isinstance(server, dict) else None
        if isinstance(url, str):
            paths.append(urlsplit(url).path.rstrip("/"))
    return sorted(set(paths) | {""}, key=len, reverse=True)


def _check_refs(location: str, document: Mapping[str, Any], node: Any) -> None:
    """Every `$ref` is local (`#/...`) and points at something."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if not ref.startswith("#/"):
                raise RunbookError(FLAG, f"{location}: $ref {ref!r}: only local refs are supported")
            if _pointer(document, ref) is None:
                raise RunbookError(FLAG, f"{location}: $ref {ref!r} points at nothing")
        for child in node.values():
            _check_refs(location, document, child)
    elif isinstance(node, list):
        for child in node:
            _check_refs(location, document, child)


def _pointer(document: Mapping[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _media_for(content: Mapping[str, Any], media: str) -> Any:
    kind = media.split("/", 1)[0]
    for key in (media, f"{kind}/*", "*/*"):
        if key in content:
            return content[key]
    return None


def _is_json(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


def _is_type(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("number", "integer"):
        return False
    if name == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _JSON_TYPES.get(name, (object,)))


def _type_name(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _is_type(value, name):
            return name
    return type(value).__name__


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:59] + "…"


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split())[:160]


class OpenApiFailed(IterationFailed):
    """A request or response does not match the OpenAPI v3 document (`--http-openapi3`)."""


@dataclass(frozen=True, slots=True)
class OpenApiCheck:
    """What one runner's requests and responses are checked against; runn's runner keys
    `skipValidateRequest`/`skipValidateResponse` turn either half off."""

    document: OpenApiDocument
    step: str
    requests: bool = True
    responses: bool = True

    def operation(self, request: RawRequest) -> Mapping[str, Any] | None:
        """The request's operation; OpenApiFailed (before it is sent) when there is none."""
        path = request.target.decode("latin-1").split("?", 1)[0]
        found = self.document.operation(request.method, path)
        if isinstance(found, str):
            if self.requests:
                raise self.failed(found)
            return None
        return found[1]

    def check_response(
        self,
        request: RawRequest,
        operation: Mapping[str, Any] | None,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        if operation is None or not self.responses:
            return
        content_type = next(
            (value.decode("latin-1") for key, value in headers if key.lower() == b"content-type"),
            "",
        )
        problem = self.document.response_problem(operation, status, content_type, body)
        if problem:
            path = request.target.decode("latin-1").split("?", 1)[0]
            template = self.document.operation(request.method, path)
            route = template[0] if isinstance(template, tuple) else path
            raise self.failed(f"{request.method} {route}: {problem}")

    def failed(self, problem: str) -> OpenApiFailed:
        return OpenApiFailed(f"{self.step}: openapi3 validation failed: {problem}")
