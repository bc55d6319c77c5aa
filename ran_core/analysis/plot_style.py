"""Shared look and plumbing of the figures: Agg figures without pyplot, styles, colours, legends, PNG output.

Measured values are solid lines / filled markers / plain bars with error bars spanning the min–max
over seeds; the paper's are dashed lines with hollow diamond markers (or hatched bars) whose legend
entries start with "paper". Where there is nothing to plot the axes carry an annotation starting
with "no " instead of an exception.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ran_core.analysis.aggregation import aggregate
from ran_core.common.files import write_atomic
from ran_core.common.names import pretty_dataset, pretty_model_name, split_model_name
from ran_core.results.loading import is_missing

PAPER_STYLE = dict(linestyle="--", marker="D", markerfacecolor="none", markersize=7, linewidth=1.3, alpha=0.9)
MEASURED_STYLE = dict(linestyle="-", marker="o", markersize=5, linewidth=1.8, capsize=3)
STATUS_COLORS = {
    "completed": "tab:green",
    "pruned": "tab:orange",
    "diverged": "tab:purple",
    "interrupted": "tab:olive",
    "errored": "tab:red",
    "unknown": "tab:gray",
    "other": "tab:gray",
}
SPREAD_NOTE = "error bars: min–max over seeds; dashed, hollow markers: paper"
PALETTE = [f"tab:{c}" for c in ("blue", "orange", "green", "red", "purple", "brown", "pink", "olive", "cyan", "gray")]


def new_figure(nrows=1, ncols=1, figsize=(7.0, 4.5), **kw):
    """A Figure on an Agg canvas (no pyplot) and its axes as a 2-D array."""
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def mark_gap(ax, text="no completed trials"):
    """Writes why the axes are empty in their middle (the text starts with 'no ')."""
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=11,
        color="0.35",
        wrap=True,
        zorder=10,
        bbox=dict(boxstyle="round", facecolor="0.95", edgecolor="0.7"),
    )


class Colors:
    """Stable colour per key, in first-seen order."""

    def __init__(self, keys=()):
        self._map: dict = {}
        for k in keys:
            self[k]

    def __getitem__(self, key):
        if key not in self._map:
            self._map[key] = PALETTE[len(self._map) % len(PALETTE)]
        return self._map[key]

    def keys(self):
        return list(self._map)


def done_cells(res, keys=None) -> pd.DataFrame:
    """Cells with a completed trial, with ``_depth`` and ``_family`` parsed from the model name."""
    cells = aggregate(res, by=keys)
    if cells.empty:
        return cells
    cells = cells[cells["n_completed"] > 0].copy()
    cells["_depth"] = cells["model"].map(lambda m: split_model_name(m)[1])
    cells["_family"] = cells["model"].map(lambda m: split_model_name(m)[0])
    return cells


def series_label(row, fields) -> str:
    """A legend label from the named settings of a series (width 1.0 and nulls left out)."""
    parts = []
    for f in fields:
        v = row.get(f)
        if v is None or is_missing(v):
            continue
        if f == "model":
            parts.append(pretty_model_name(v))
        elif f == "_family":
            parts.append({"attention": "Attention", "resnet": "ResNet"}.get(v, str(v)))
        elif f == "dataset":
            parts.append(pretty_dataset(v))
        elif f == "width":
            if float(v) != 1.0:
                parts.append(f"width {float(v):g}")
        elif f == "epochs":
            parts.append(f"{int(v)} ep")
        elif f == "noise_ratio":
            parts.append(f"noise {100 * float(v):g}%")
        elif f == "learning_mode":
            parts.append(str(v).upper())
        else:
            parts.append(str(v))
    return ", ".join(parts)


def errorbar(ax, g, x, color, label, **style):
    """Mean test error (%) of cells with error bars spanning min-max over seeds."""
    y = 100 * g["mean_test_error"].to_numpy(float)
    lo = y - 100 * g["min_test_error"].to_numpy(float)
    hi = 100 * g["max_test_error"].to_numpy(float) - y
    st = {**MEASURED_STYLE, **style}
    ax.errorbar(x, y, yerr=np.vstack([lo, hi]), color=color, label=label, **st)


def groups(df: pd.DataFrame, keys: list[str]):
    """(key tuple, rows) per distinct value of ``keys``, nulls as None."""
    if df.empty:
        return []
    key_df = df[keys].astype(object).where(df[keys].notna(), None)
    out = []
    for key, idx in key_df.groupby(keys, dropna=False, sort=True).groups.items():
        key = key if isinstance(key, tuple) else (key,)
        key = tuple(None if is_missing(v) else v for v in key)  # NaN != NaN would split colours
        out.append((key, df.loc[idx]))
    return out


def legend(ax, note=None, **kw):
    """Legend (if anything is labelled); ``note`` becomes its small title."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        leg = ax.legend(fontsize=8, title=note, title_fontsize=7, **kw)
        if note:
            leg.get_title().set_color("0.35")


def figure_to_png(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def save_png(fig: Figure, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Write ``fig`` as PNG atomically (temp file in the same folder, then rename)."""
    return write_atomic(path, figure_to_png(fig, dpi=dpi))


def show(fig: Figure, dpi: int = 100):
    """Display a figure in Jupyter (as PNG) without pyplot; prints a line elsewhere."""
    try:
        from IPython.display import Image, display
    except ImportError:  # pragma: no cover - IPython ships with the notebook extra
        print(f"<Figure: {fig.axes[0].get_title() if fig.axes else ''}>")
        return
    display(Image(data=figure_to_png(fig, dpi=dpi), format="png"))
