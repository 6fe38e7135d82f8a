"""How the workflow commands show a run on the terminal: the progress bars of
``workflow run``, its summary, the ``workflow status`` lines, a Redis URL with its
password masked, and the tail of a background run's log.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["ProgressBars", "print_summary", "print_status", "masked", "log_tail"]


class ProgressBars:
    """Two bars on stderr (emitted, collected) and a line of pool/QoS figures."""

    def __init__(self, tasks: int, enabled: bool):
        self.enabled = enabled
        if not enabled:
            return
        from rich.console import Console  # deferred: ~0.1 s
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description:>9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"),
            console=Console(stderr=True),
            transient=False,
        )
        self.emitted = self.progress.add_task("emitted", total=tasks or None, info="")
        self.collected = self.progress.add_task("collected", total=tasks or None, info="")
        self.progress.start()

    def update(self, s) -> None:
        if not self.enabled:
            return
        qos = "-" if s.qos is None else f"{s.qos * 100:.1f}%"
        self.progress.update(self.emitted, completed=s.enqueued_total, info=f"queue {s.queue}")
        self.progress.update(self.collected, completed=s.completed, info=f"workers {s.workers}/{s.desired}  QoS {qos}")

    def close(self) -> None:
        if self.enabled:
            self.progress.stop()


def print_summary(d: dict) -> None:
    rows = [
        ("run", d["run_id"]),
        ("state", d["state"]),
        ("policy", d["policy"]),
        ("completed", f"{d['completed']}/{d['tasks']}"),
        ("lost", d["lost"]),
        ("duplicates", f"{d['duplicates']} (dropped by the collector: {d['duplicates_dropped']})"),
        ("QoS", f"{d['qos'] * 100:.2f}% of deadlines met"),
        ("mean workers", f"{d['mean_workers']:.2f}"),
        ("duration", f"{d['duration_s']:.2f} s ({d['throughput']:.0f} tasks/s)"),
        ("requeued", f"{d['requeued']} task(s) of {d['reaped_workers']} dead worker(s)"),
        ("scale-downs", f"{d['acks']} ACKed, {d['external_scale_downs']} asked by others"),
        ("scale events", len(d["scale_events"])),
    ]
    width = max(len(k) for k, _ in rows) + 2
    for k, v in rows:
        print(f"{k + ':':<{width}}{v}")
    sys.stdout.flush()


def print_status(s) -> None:
    qos = "-" if s.qos is None else f"{s.qos * 100:.2f}%"
    serve = "  serving input_queue" if s.serve else ""
    state = s.state if s.alive or s.state != "running" else "running (its controller is gone)"
    print(f"run {s.run_id or '-'}  {state}  policy {s.policy or '-'}  {s.elapsed_s:.1f} s{serve}")
    print(
        f"tasks     enqueued {s.enqueued_total}/{s.tasks}  collected {s.completed}  "
        f"queue {s.queue}  results {s.results}"
    )
    print(f"workers   {s.workers} running, {s.stopping} stopping, target {s.desired}, mean {s.mean_workers:.2f}")
    print(
        f"QoS       {qos}  requeued {s.requeued}  dead workers {s.reaped_workers}  "
        f"duplicates dropped {s.duplicates_dropped}"
    )
    sys.stdout.flush()


def masked(url: str) -> str:
    """``url`` with its password (if any) shown as ***."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))


def log_tail(path: Path, lines: int = 8) -> list[str]:
    try:
        return path.read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return []
