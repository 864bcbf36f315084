"""Where a run's results go: the report flags as one value (`Outputs`), checked before any
load, with the `--metrics-port` server and the `--html` report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...engine import Session, Snapshot
from ..outputs.files import check_output_files
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
    def metrics(self) -> MetricsAddress | None:
        if self.metrics_port is None:
            return None
        if not 0 < self.metrics_port < 65536:
            raise UsageError(f"--metrics-port: {self.metrics_port} is not a port (1-65535)")
        return MetricsAddress(self.metrics_host, self.metrics_port)


def check_outputs(outputs: Outputs) -> MetricsAddress | None:
    """Before any request, for every command: each output file can be written (--out, --csv,
    --html, --save-dir) and the metrics port is free."""
    check_output_files(
        {"--out": outputs.out, "--csv": outputs.csv, "--html": outputs.html},
        save_dir=outputs.save_dir,
    )
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


def write_html_report(path: str | None, snapshot: Snapshot, report: dict[str, Any]) -> None:
    if not path:
        return
    from ..outputs.html import write_html

    try:
        write_html(path, snapshot, report)
    except OSError as exc:
        raise UsageError(f"--html: cannot write {path}: {exc.strerror or exc}") from None
