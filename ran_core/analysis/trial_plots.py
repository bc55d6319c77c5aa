"""Figures of single trials and of a whole results folder: learning curves, ASHA stops,
confusion matrices, trials per study and status. Each returns a Figure on an Agg canvas (no pyplot).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ran_core.analysis.aggregation import asha_table, best_trial, confusion_matrix, learning_curves
from ran_core.analysis.plot_style import STATUS_COLORS, Colors, legend, mark_gap, new_figure, pretty_dataset
from ran_core.common.keys import STATUSES
from ran_core.common.names import pretty_model_name
from ran_core.common.studies import STUDY_NAMES
from ran_core.results.loading import Results, as_results, is_missing, status_counts

__all__ = ["plot_asha", "plot_confusion", "plot_learning_curves", "plot_status_counts"]


def plot_learning_curves(results, study: str | None = None, max_trials: int = 200) -> Figure:
    """Test error (%) vs epoch per trial: completed solid, pruned dashed ending in ×.

    Colour = model; where the trials differ in label noise, one panel per model instead, coloured
    by noise level (light = clean, dark = noisiest). Errored trials are left out; trials without a
    row in trials.parquet are dotted grey ("unknown"). At most ``max_trials`` curves (the best by
    last test error first).
    """
    from matplotlib import colormaps

    if not isinstance(results, Results):
        raise TypeError(f"plot_learning_curves needs Results (epochs). Received: {type(results).__name__}")
    curves = learning_curves(results, study)
    noise = curves["noise_ratio"].round(3) if len(curves) else curves["noise_ratio"]
    by_noise = noise.nunique() > 1
    models = sorted(curves["model"].dropna().unique())
    panels = models if by_noise else [None]
    fig, axes = new_figure(1, len(panels), figsize=(7.5 if len(panels) == 1 else 4.6 * len(panels), 4.8), sharey=True)
    title = "Learning curves" + (f": {study}" if study else "")
    if curves.empty:
        mark_gap(axes[0, 0], "no epochs logged")
    else:
        last = curves.sort_values("epoch").groupby(["experiment_id", "trial_id"])["test_error"].last()
        keep = set(last.sort_values().index[:max_trials])
        colors = Colors(models)
        levels = sorted(noise.dropna().unique())
        shades = {
            level: colormaps["viridis_r"](0.15 + 0.8 * i / max(1, len(levels) - 1)) for i, level in enumerate(levels)
        }
        for key, g in curves.groupby(["experiment_id", "trial_id"], sort=True):
            if key not in keep:
                continue
            g = g.sort_values("epoch")
            status, model, level = g["status"].iloc[0], g["model"].iloc[0], noise.loc[g.index[0]]
            known = not (model is None or is_missing(model))
            ax = axes[0, panels.index(model) if by_noise and known else 0]
            color = "0.5" if not known else (shades[level] if by_noise and level in shades else colors[model])
            _draw_curve(ax, g["epoch"].to_numpy(float), 100 * g["test_error"].to_numpy(float), status, color)
        if by_noise:
            keys = [(shades[lv], f"noise {100 * lv:g}%") for lv in levels]
        else:
            keys = [(colors[m], pretty_model_name(m)) for m in models]
        axes[0, 0].legend(handles=_curve_legend(keys, (curves["status"] == "unknown").any()), fontsize=8)
        if len(last) > max_trials:
            title += f" (best {max_trials} of {len(last)} trials)"
    for i, ax in enumerate(axes[0]):
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title(pretty_model_name(panels[i]) if by_noise else title, fontsize=10 if by_noise else None)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("test error (%)")
    if by_noise:
        fig.suptitle(title + ", coloured by label noise")
    return fig


def _draw_curve(ax, x, y, status, color):
    """Completed: solid; pruned: dashed ending in x; anything else (no trial row): dotted grey."""
    if status == "completed":
        ax.plot(x, y, color=color, linewidth=1.5, alpha=0.85)
    elif status == "pruned":
        ax.plot(x, y, color=color, linewidth=1.0, linestyle="--", alpha=0.6)
        ax.plot(x[-1:], y[-1:], color=color, marker="x", markersize=7, linestyle="none")
    else:
        ax.plot(x, y, color="0.5", linewidth=1.0, linestyle=":", alpha=0.8)


def _curve_legend(keys, unknown):
    """Legend handles: one per (colour, label) in `keys`, then the line styles of the statuses."""
    handles = [Line2D([], [], color=color, linewidth=2, label=label) for color, label in keys]
    handles += [
        Line2D([], [], color="0.3", linewidth=1.5, label="completed"),
        Line2D([], [], color="0.3", linewidth=1.0, linestyle="--", marker="x", label="pruned (ASHA)"),
    ]
    if unknown:
        handles.append(Line2D([], [], color="0.5", linestyle=":", label="no trial row"))
    return handles


def plot_asha(results, study: str | None = None) -> Figure:
    """ASHA: epochs run per trial, the rung each stopped at, pruned vs completed."""
    if not isinstance(results, Results):
        results = as_results(results, None)
    table = asha_table(results, study)
    fig, axes = new_figure(
        1, 2, figsize=(11.0, max(4.5, min(12.0, 0.18 * len(table) + 2.0))), gridspec_kw={"width_ratios": [1.4, 1.0]}
    )
    ax, ax2 = axes[0]
    n_err = int((results.study(study).trials["status"] == "errored").sum())
    if table.empty:
        mark_gap(ax, "no trials")
        mark_gap(ax2, "no trials")
    else:
        _plot_epochs_run(ax, table)
        _plot_stop_points(ax2, table)
    fig.suptitle(
        f"ASHA: where each trial stopped ({study or 'all studies'}"
        + (f"; {n_err} errored trial(s) not shown" if n_err else "")
        + ")"
    )
    return fig


def _plot_epochs_run(ax, table):
    """One bar per trial (epochs trained, coloured by status) under the rungs' epochs."""
    y = np.arange(len(table))[::-1]
    colors = [STATUS_COLORS.get(s, "tab:gray") for s in table["status"]]
    ax.barh(y, table["epochs_run"].astype(float).fillna(0).to_numpy(), color=colors, height=0.8)
    if len(table) <= 40:
        ax.set_yticks(y, [str(t) for t in table["trial_id"]], fontsize=7)
    else:
        ax.set_yticks([])
    rungs = table.dropna(subset=["rung"]).drop_duplicates("rung").sort_values("rung")
    for _, r in rungs.iterrows():
        ax.axvline(float(r["rung_epoch"]), color="0.3", linestyle=":", linewidth=1)
        ax.text(
            float(r["rung_epoch"]),
            1.01,
            f"rung {int(r['rung'])}\n(ep {int(r['rung_epoch'])})",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=7,
        )
    ax.set_xlabel("epochs trained")
    ax.set_ylabel("trial (sorted by epochs trained)")
    statuses = [s for s in ("completed", "pruned", "unknown") if (table["status"] == s).any()]
    handles = [Patch(color=STATUS_COLORS[s], label=f"{s} ({int((table['status'] == s).sum())})") for s in statuses]
    ax.legend(handles=handles, fontsize=8, loc="lower right")


def _plot_stop_points(ax, table):
    """Test error where each trial stopped against the epoch it stopped at, with trials per rung."""
    for status, marker in (("completed", "o"), ("pruned", "x"), ("unknown", ".")):
        g = table[table["status"] == status]
        if len(g):
            ax.scatter(
                g["epochs_run"].astype(float),
                100 * g["stop_test_error"].astype(float),
                color=STATUS_COLORS[status],
                marker=marker,
                label=status,
                s=36,
            )
    counts = table.groupby("rung_epoch")["trial_id"].count()
    for ep, c in counts.items():
        ax.annotate(
            f"n={c}", (float(ep), 1.0), xycoords=("data", "axes fraction"), ha="center", va="bottom", fontsize=7
        )
    ax.set_xlabel("epochs trained (stop point)")
    ax.set_ylabel("test error at stop (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.xaxis.get_major_locator().set_params(integer=True)


def plot_confusion(results, trial_id: str | None = None, study: str | None = None, normalize: bool = True) -> Figure:
    """Confusion matrix of one trial (default: best completed) from ``test_confusion``.

    Rows are true labels, columns predictions; with ``normalize`` the colour is
    the fraction of each true class, and counts are written in the cells
    when there are at most 12 classes.
    """
    res = as_results(results, study)
    fig, axes = new_figure(figsize=(6.2, 5.4))
    ax = axes[0, 0]
    t = res.trials
    if trial_id is None:
        row = best_trial(res, None, need_confusion=True)
        missing = "no completed trial with a confusion matrix"
    else:
        hit = t[t["trial_id"] == trial_id]
        row = hit.iloc[0] if len(hit) else None
        missing = f"no trial {trial_id!r}" if row is None else f"no confusion matrix for trial {trial_id!r}"
    m = confusion_matrix(row) if row is not None else None
    if m is None:
        mark_gap(ax, missing)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title("Confusion matrix")
        return fig
    k = m.shape[0]
    totals = m.sum(axis=1, keepdims=True)
    frac = np.divide(m, totals, out=np.zeros(m.shape, dtype=float), where=totals > 0)
    img = ax.imshow(
        frac if normalize else m, cmap="Blues", vmin=0, vmax=1 if normalize else None, interpolation="nearest"
    )
    fig.colorbar(img, ax=ax, label="fraction of true class" if normalize else "test images")
    if k <= 12:
        for i in range(k):
            for j in range(k):
                ax.text(
                    j,
                    i,
                    str(m[i, j]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if frac[i, j] > 0.5 else "black",
                )
        ax.set_xticks(range(k))
        ax.set_yticks(range(k))
    ax.set_xlabel("predicted label (class index)")
    ax.set_ylabel("true label (class index)")
    err = row.get("final_test_error")
    err_s = "" if is_missing(err) else f", test error {100 * err:.2f}%"
    ax.set_title(
        f"{pretty_model_name(row['model'])} on {pretty_dataset(row['dataset'])}, trial {row['trial_id']}"
        f"\n{row['status']}{err_s}, noise {100 * (row['noise_ratio'] or 0):g}%",
        fontsize=10,
    )
    return fig


def plot_status_counts(results) -> Figure:
    """Trials per study by status (stacked bars); known studies with no files are marked."""
    if not isinstance(results, Results):
        results = as_results(results, None)
    counts = status_counts(results).set_index("study")
    studies = list(STUDY_NAMES) + [s for s in counts.index if s not in STUDY_NAMES]
    counts = counts.reindex(studies).fillna(0)
    fig, axes = new_figure(figsize=(7.5, 0.5 * len(studies) + 2.0))
    ax = axes[0, 0]
    y = np.arange(len(studies))[::-1]
    left = np.zeros(len(studies))
    for status in (*STATUSES, "other"):
        vals = counts[status].to_numpy(float)
        if vals.sum():
            ax.barh(y, vals, left=left, color=STATUS_COLORS[status], label=status)
        left += vals
    for yi, total in zip(y, counts["total"]):
        if total == 0:
            ax.text(
                0.01, yi, "no result files", transform=ax.get_yaxis_transform(), va="center", fontsize=8, color="0.4"
            )
    if counts["total"].sum() == 0:
        mark_gap(ax, "no trials")
    ax.set_yticks(y, studies)
    ax.set_xlabel("trials")
    ax.set_title("Trials per study and status")
    ax.grid(axis="x", alpha=0.3)
    legend(ax, loc="lower right")
    return fig
