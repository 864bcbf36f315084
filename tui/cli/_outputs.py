"""Where a run's results go: the report flags as one value (`Outputs`), checked before any
load, with the `--metrics-port` server and the `--html` report.

An output file named `-` is stdout, as `--targets -` is stdin (k6, vegeta): one output at most
may have it, and the text report (or `-q`'s line) then goes to stderr; `--format json` already
prints the report on stdout, so with a `-` output it is an error. The console's terminal is
its own, so there `-` is an error too."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from ...engine import Session, Snapshot
from ..outputs.files import STDOUT, check_output_files, dumps, write_json
from ._errors import UsageError

if TYPE_CHECKING:
    from ..outputs.prometheus import MergedSource, MetricsServer


@dataclass(frozen=True)
class MetricsAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Outputs:
    """The report flags of one command (a command without a flag keeps the default)."""

    format: str = "text"  # stdout: text or json
    quiet: bool = False
    out: str | None = None  # --out / --summary-json
    csv: str | None = None
    html: str | None = None
    save_dir: str | None = None  # the console's reports
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"

    @property
    def files(self) -> dict[str, str | None]:
        """The output files by flag (the console's `--save-dir` is a directory, not here)."""
        return {"--out": self.out, "--csv": self.csv, "--html": self.html}

    @property
    def on_stdout(self) -> list[str]:
        """The flags whose file is `-`: stdout."""
        return [flag for flag, path in self.files.items() if path == STDOUT]

    @property
    def report_stream(self) -> TextIO:
        """Where the text report and `-q`'s line go: stderr when an output has stdout."""
        return sys.stderr if self.on_stdout else sys.stdout

    @property
    def metrics(self) -> MetricsAddress | None:
        if self.metrics_port is None:
            return None
        if not 0 < self.metrics_port < 65536:
            raise UsageError(f"--metrics-port: {self.metrics_port} is not a port (1-65535)")
        return MetricsAddress(self.metrics_host, self.metrics_port)


def check_stdout(command: str, outputs: Outputs) -> None:
    """`-` (stdout) for one output at most, never beside `--format json`, never in the console."""
    claims = outputs.on_stdout
    if command == "console":
        named = [*claims, *(["--save-dir"] if outputs.save_dir == STDOUT else [])]
        if named:
            raise UsageError(
                f"{named[0]} -: the console owns the terminal, so stdout is not free; "
                "name a file (or use `loadscope run`)"
            )
    if len(claims) > 1:
        raise UsageError(
            f"{claims[0]} and {claims[1]} both name stdout (-); only one output can have it"
        )
    if claims and outputs.format == "json":
        raise UsageError(
            f"--format json prints the report on stdout, and {claims[0]} - names stdout too; "
            "drop one of them"
        )


def check_outputs(outputs: Outputs) -> MetricsAddress | None:
    """Before any request, for every command: each output file can be written (--out, --csv,
    --html, --save-dir) and the metrics port is free."""
    files = {flag: path for flag, path in outputs.files.items() if path != STDOUT}
    check_output_files(files, save_dir=outputs.save_dir)
    address = outputs.metrics
    if address is not None:
        from ..outputs.prometheus import check_metrics_port

        try:
            check_metrics_port(address.host, address.port)
        except OSError as exc:
            raise _cannot_listen(address, exc) from None
    return address


def _cannot_listen(address: MetricsAddress, exc: OSError) -> UsageError:
    return UsageError(f"--metrics-port: cannot listen on {address}: {exc.strerror or exc}")


def serve_metrics(address: MetricsAddress | None, session: Session) -> MetricsServer | None:
    """Start /metrics for `session` (in the process that runs it)."""
    server = _bind_metrics(address)
    if server is not None:
        server.attach(session)
    return server


def serve_merged_metrics(
    address: MetricsAddress | None, controller: MergedSource
) -> MetricsServer | None:
    """Start /metrics for a session split over workers: the merged numbers, in this process."""
    server = _bind_metrics(address)
    if server is not None:
        server.attach_workers(controller)
    return server


def _bind_metrics(address: MetricsAddress | None) -> MetricsServer | None:
    if address is None:
        return None
    from ..outputs.prometheus import MetricsServer

    try:
        return MetricsServer(address.host, address.port)
    except OSError as exc:
        raise _cannot_listen(address, exc) from None


def write_json_report(path: str, document: dict[str, Any]) -> None:
    """`--out`: the file, or stdout for `-` (OSError: the file could not be written)."""
    if path == STDOUT:
        sys.stdout.write(dumps(document) + "\n")
    else:
        write_json(path, document)


def write_html_report(path: str | None, snapshot: Snapshot, report: dict[str, Any]) -> None:
    if not path:
        return
    from ..outputs.html import html_report, write_html

    if path == STDOUT:
        sys.stdout.write(html_report(snapshot, report))
        return
    try:
        write_html(path, snapshot, report)
    except OSError as exc:
        raise UsageError(f"--html: cannot write {path}: {exc.strerror or exc}") from None
