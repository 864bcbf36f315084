"""The per-worker row: each worker's requests/s, CPU% and connections (and its node on Ray),
under the header, shown only when the session is split over workers."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ...engine import Snapshot, SocketCounts, WorkerSnapshot


class WorkersRow(Widget):
    DEFAULT_CSS = """
    WorkersRow { height: auto; max-height: 4; background: $panel; color: $text; display: none; }
    WorkersRow.-split { display: block; }
    """

    snapshot: reactive[Snapshot | None] = reactive(None, always_update=True, layout=True)

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        self.set_class(bool(snapshot is not None and snapshot.workers), "-split")

    def render(self) -> Text:
        snap = self.snapshot
        text = Text(no_wrap=False)
        if snap is None or not snap.workers:
            return text
        text.append(f" {len(snap.workers)} workers ({snap.cluster}) ", style="bold reverse")
        for row in snap.workers:
            text.append("  ")
            text.append_text(worker_cell(row, with_node=snap.cluster == "ray"))
        text.append_text(_node_sockets(snap))
        return text


def worker_cell(row: WorkerSnapshot, *, with_node: bool) -> Text:
    cell = Text()
    cell.append(f"w{row.worker}", style="bold cyan")
    if with_node:
        cell.append(f"@{row.node}", style="cyan")
    cell.append(f" {row.rps_now:,.0f} req/s", style="bold")
    cpu_style = "bold red" if row.cpu_percent >= 90 else ""
    cell.append(f" {row.cpu_percent:.0f}% cpu", style=cpu_style)
    cell.append(f" {row.connections_open} conns", style="dim")
    return cell


def _node_sockets(snap: Snapshot) -> Text:
    """Each node's sockets (its workers' own, added up), with the node named."""
    nodes: dict[str, SocketCounts] = {}
    for row in snap.workers:
        if row.kernel is not None:
            seen = nodes.get(row.node)
            nodes[row.node] = row.kernel if seen is None else _added(seen, row.kernel)
    text = Text()
    if snap.cluster != "ray" or not nodes:
        return text
    text.append("\n sockets ", style="bold")
    for node, counts in nodes.items():
        text.append(f" {node}: {counts.established} est, {counts.time_wait} tw ", style="dim")
    total_established = sum(counts.established for counts in nodes.values())
    total_time_wait = sum(counts.time_wait for counts in nodes.values())
    text.append(f" │ all: {total_established} est, {total_time_wait} tw", style="bold")
    return text


def _added(a: SocketCounts, b: SocketCounts) -> SocketCounts:
    return SocketCounts(
        established=a.established + b.established,
        time_wait=a.time_wait + b.time_wait,
        close_wait=a.close_wait + b.close_wait,
        syn_sent=a.syn_sent + b.syn_sent,
        other=a.other + b.other,
    )
