"""Evaluation reports: ``report.json`` (summaries), ``per_object.csv`` (IoU curves) and
``iou_vs_clicks.png`` (mean IoU against the total number of clicks, one line per method).

All files are written atomically (temp file + ``os.replace``). matplotlib uses the Agg backend.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..fileio import atomic_write_text
from .metrics import IOG_CLICKS

if TYPE_CHECKING:
    from .protocol import EvalResult


def build_report(results: Sequence[EvalResult], extra: dict | None = None) -> dict:
    """``{"methods": {name: summary}, **extra}`` for a list of ``EvalResult``."""
    out = dict(extra or {})
    out["methods"] = {r.name: r.summary() for r in results}
    return out


def write_report(
    results: Sequence[EvalResult], out_dir: str | Path, extra: dict | None = None, plot: bool = True
) -> dict:
    """Write report.json, per_object.csv and (``plot``) iou_vs_clicks.png into ``out_dir``.
    Returns ``{"json": path, "csv": path, "png": path | None, "report": dict}``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rep = build_report(results, extra)
    jpath = atomic_write_text(out_dir / "report.json", json.dumps(rep, indent=2) + "\n")
    buf = io.StringIO()
    w = csv.writer(buf)
    k = max(len(o.ious) for r in results for o in r.objects)
    w.writerow(
        ["method", "plane", "label", "area", "touches_border", "row0", "col0", "row1", "col1"]
        + [f"iou@{IOG_CLICKS + i}" for i in range(k)]
    )
    for r in results:
        for o in r.objects:
            w.writerow(
                [r.name, o.plane, o.label, o.area, int(o.touches_border), *o.box]
                + [f"{v:.5f}" for v in o.ious]
            )
    cpath = atomic_write_text(out_dir / "per_object.csv", buf.getvalue())
    ppath = plot_curves(results, out_dir / "iou_vs_clicks.png") if plot else None
    return {"json": jpath, "csv": cpath, "png": ppath, "report": rep}


def plot_curves(
    results: Sequence[EvalResult], path: str | Path, title: str = "IoU vs clicks"
) -> Path:
    """Mean IoU after 3 + k clicks for every method, saved as a PNG (atomic)."""
    from ..extras import require
    from ..fileio import atomic_write

    matplotlib = require("matplotlib", "The IoU-vs-clicks plot of the evaluation report")
    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    for r in results:
        curve = r.curves.mean(axis=0)
        ax.plot(
            [IOG_CLICKS + i for i in range(len(curve))],
            curve,
            marker="o",
            ms=3,
            label=f"{r.name} (n={len(r.objects)})",
        )
    ax.axhline(0.85, color="0.7", lw=0.8, ls="--")
    ax.axhline(0.90, color="0.5", lw=0.8, ls="--")
    ax.set_xlabel("clicks (3 = box corners + inside click)")
    ax.set_ylabel("mean IoU")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return atomic_write(path, lambda fh: fig.savefig(fh, format="png"))
