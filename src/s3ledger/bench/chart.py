"""``s3ledger bench --chart``: the main figures as bars per mode (matplotlib, loaded on demand)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from s3ledger.bench.summary import BenchSummary, FigureKey

__all__ = ["write_chart"]

_CHART_PANELS: Final[tuple[tuple[FigureKey, str], ...]] = (
    ("requests_per_event", "requests / fresh event"),
    ("write_units_per_event", "write units / fresh event"),
    ("requests_per_duplicate", "requests / duplicate"),
    ("events_per_second", "fresh events / s"),
    ("duplicates_per_second", "duplicates / s"),
    ("latency_ms_p50", "latency / event p50 (ms)"),
)


def write_chart(summary: BenchSummary, path: Path) -> None:
    """Bars per mode for the main figures; PNG or SVG by the file's suffix."""
    import matplotlib  # noqa: PLC0415 -- only for --chart

    matplotlib.use("Agg")
    from matplotlib.figure import Figure  # noqa: PLC0415 -- after matplotlib.use

    modes = summary["modes"]
    names = list(modes)
    colours = [f"C{i}" for i in range(len(names))]
    figure = Figure(figsize=(13, 7.5), layout="constrained")
    axes = figure.subplots(2, 3)
    for ax, (key, title) in zip(axes.flat, _CHART_PANELS, strict=True):
        values = [float(modes[m][key]) for m in names]
        bars = ax.bar(names, values, color=colours)
        ax.bar_label(bars, labels=[f"{v:.2f}" if v < 100 else f"{v:.0f}" for v in values])
        ax.set_title(title)
        ax.tick_params(axis="x", labelrotation=20)
        ax.margins(y=0.15)
    figure.suptitle(
        f"s3ledger bench — {summary['events']} events, {summary['workers']} workers, "
        f"batch {summary['batch']}, {summary['machine']['cores']} cores, {summary['date']}"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
