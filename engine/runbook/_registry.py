"""The registry of one load: what every runbook compiled so far adds to the session (engine
runners, step names, requests, warnings), the runbooks read, and the options they run under."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from .._config import RunnerConfig
from ..files import input_file_problem
from ._book import BookSpec, parse_book
from ._book_runners import RunnerSpec
from ._errors import Location, RunbookError, one_line
from ._layers import check_layer, layer_book
from ._openapi import OpenApiCheck, OpenApiDocument
from ._options import READ_PARENT, RunbookOptions
from ._program import BookProgram
from ._request import RequestProgram
from ._yaml import YMap, YNode, load


@dataclass
class Registry:
    """Everything compiled for one session: engine runners, step names, requests, warnings."""

    env: Mapping[str, str]
    options: RunbookOptions = field(default_factory=RunbookOptions)
    var_overrides: Mapping[str, object] = field(default_factory=dict)  # --var, for top runbooks
    warnings: list[str] = field(default_factory=list)
    runners: dict[str, RunnerConfig] = field(default_factory=dict)
    step_names: list[str] = field(default_factory=list)
    requests: list[RequestProgram] = field(default_factory=list)
    books: list[BookProgram] = field(default_factory=list)
    parsed: dict[Path, BookSpec] = field(default_factory=dict)
    results_read: bool = False  # some expression reads `steps`, `current`, `previous`, `parent`
    all_bodies: bool = False  # some expression reads bodies of steps it cannot name
    layers: dict[str, YMap] = field(default_factory=dict)  # --overlay/--underlay files, read
    openapi: dict[str, OpenApiDocument] = field(default_factory=dict)  # --http-openapi3 files

    def read_openapi(self) -> None:
        """Read every --http-openapi3 document now: a bad one is an error before any load."""
        for _, location in self.options.openapi3:
            if location not in self.openapi:
                self.openapi[location] = OpenApiDocument.read(location)

    def openapi_check(self, runner: RunnerSpec, step: str) -> OpenApiCheck | None:
        """What `runner`'s requests are checked against: the first --http-openapi3 document
        given for its key or for every runner (runn's order); None without one."""
        if runner.own_openapi3:
            return None  # runn checks against the runner's own `openapi3`, which is ignored here
        for key, location in self.options.openapi3:
            if key in ("", runner.name):
                return OpenApiCheck(
                    self.openapi[location],
                    step,
                    requests=not runner.skip_validate_request,
                    responses=not runner.skip_validate_response,
                )
        return None

    def mark_results_read(self) -> None:
        self.results_read = True

    def warn(self, location: Location, message: str) -> None:
        text = f"{location}: warning: {one_line(message, 300)}"
        if text not in self.warnings:
            self.warnings.append(text)

    def runner_name(self, book: str, spec: RunnerSpec) -> str:
        """One engine runner per distinct runbook runner; same name and settings share one."""
        assert spec.endpoint is not None
        config = RunnerConfig(
            name=spec.name,
            base_url=spec.endpoint,
            timeout=spec.timeout,
            skip_verify=spec.skip_verify,
            cacert=spec.cacert,
            cert=spec.cert,
            key=spec.key,
            use_cookie=bool(spec.use_cookie),
            follow_redirects=spec.follow_redirects,
            tls_server_name=spec.server_name,
        )
        candidates = [spec.name, f"{book}:{spec.name}"]
        candidates += [f"{book}:{spec.name}#{n}" for n in range(2, len(self.runners) + 3)]
        for candidate in candidates:
            named = replace(config, name=candidate)
            existing = self.runners.get(candidate)
            if existing is None:
                self.runners[candidate] = named
                return candidate
            if existing == named:
                return candidate
        raise AssertionError("unreachable: a free runner name always exists")

    def check_scope(self, path: Path, directory: Path, location: Location, what: str) -> None:
        """runn reads a runbook outside the including runbook's folder only with the
        `read:parent` scope."""
        if self.options.allows(READ_PARENT) or path.resolve().is_relative_to(directory.resolve()):
            return
        raise RunbookError(
            location,
            f"scope error: {what} is outside the runbook's folder",
            f"allow it with --scopes {READ_PARENT}",
        )

    def read(self, path: Path, display: str) -> BookSpec:
        cached = self.parsed.get(path)
        if cached is not None:
            return cached
        book = parse_book(self.read_tree(path, display), display, path, self.warn)
        self.parsed[path] = book
        return book

    def read_top(self, path: Path, display: str) -> BookSpec:
        """A runbook given to run: with --runner, --overlay and --underlay applied (not cached
        with `read`'s: included, the same file is read as it is)."""
        if not self.options.layered:
            return self.read(path, display)
        tree = layer_book(self.read_tree(path, display), display, self.options, self.read_layer)
        return parse_book(tree, display, path, self.warn)

    def read_layer(self, path: str, flag: str) -> YMap:
        layer = self.layers.get(path)
        if layer is None:
            problem = input_file_problem(Path(path))
            if problem:
                raise RunbookError(flag, f"{path}: {problem}")
            layer = self.layers[path] = check_layer(self.read_tree(Path(path), path), path, flag)
        return layer

    def read_tree(self, path: Path, display: str) -> YNode | None:
        """The runbook's YAML, not yet parsed (a custom runner's runbook is expanded first)."""
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise RunbookError(Location(display), "the runbook is not UTF-8 text") from None
        except OSError as exc:
            raise RunbookError(
                Location(display), f"cannot read the runbook: {exc.strerror}"
            ) from None
        return load(text, display, self.env, self.warn)
