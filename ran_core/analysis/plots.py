"""Figures for the studies, measured values beside the paper's; the public figure API.

Every function takes Results (or a trials DataFrame) and a study name (None: every row given) and
returns a :class:`matplotlib.figure.Figure` drawn on an Agg canvas. pyplot is never imported, so
nothing is registered in pyplot's global figure list and no backend is switched. The look is
shared (`ran_core.analysis.plot_style`): measured values solid with error bars spanning the min–max over
seeds, the paper's dashed with hollow markers (or hatched bars) and legend entries starting with
"paper"; empty axes carry an annotation starting with "no " (e.g. "no completed trials").
Trial-level figures live in `ran_core.analysis.trial_plots` and are re-exported here. Use :func:`show` in
a notebook and :func:`save_png` to write a file. Which figures a study draws: ran_core.studies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ran_core.analysis.plot_style import (
    MEASURED_STYLE,
    PAPER_STYLE,
    SPREAD_NOTE,
    Colors,
    done_cells,
    errorbar,
    figure_to_png,
    groups,
    legend,
    mark_gap,
    new_figure,
    pretty_dataset,
    save_png,
    series_label,
    show,
)
from ran_core.analysis.trial_plots import plot_asha, plot_confusion, plot_learning_curves, plot_status_counts
from ran_core.common import paper
from ran_core.common.names import PAPER_DATASET_NAMES, pretty_model_name, split_model_name
from ran_core.results.loading import as_results, is_missing

__all__ = [
    "figure_to_png",
    "plot_asha",
    "plot_attention_types",
    "plot_confusion",
    "plot_depth",
    "plot_learning_curves",
    "plot_learning_mode",
    "plot_noise_robustness",
    "plot_params",
    "plot_status_counts",
    "save_png",
    "show",
]


_FAMILY_COLORS = {"attention": ["tab:blue", "tab:cyan", "tab:purple"], "resnet": ["tab:orange", "tab:red", "tab:brown"]}


def plot_noise_robustness(results, study: str | None = None) -> Figure:
    """Left: test error (%) vs label-noise ratio (%), measured (solid) beside the paper's Table 5
    (+ Table 6 at 0 %, dashed); right: the gap, ResNet minus Attention error (pp), on one scale for
    both. Attention is blue and ResNet orange in both panels, whatever the depth."""
    res = as_results(results, study)
    fig, axes = new_figure(1, 2, figsize=(12.0, 4.8), gridspec_kw={"width_ratios": [1.3, 1.0]})
    ax, gap_ax = axes[0]
    cells = done_cells(res)
    _plot_measured_noise(ax, gap_ax, cells)
    _plot_paper_noise(ax, gap_ax)
    gap_ax.axhline(0, color="0.5", linewidth=0.8)
    if cells.empty:
        mark_gap(ax)
    for a in (ax, gap_ax):
        a.set_xlabel("label noise ratio (% of training labels corrupted)")
        a.set_xticks([0, 10, 30, 50, 70])
        a.grid(alpha=0.3)
    ax.set_ylabel("test error (%)")
    ax.set_title("Test error under label noise (paper Table 5)")
    gap_ax.set_ylabel("ResNet error minus Attention error (pp)")
    gap_ax.set_title("Attention's advantage: above 0 = attention errs less")
    legend(ax, SPREAD_NOTE, loc="upper left")
    legend(gap_ax, "error bars: extremes over seeds", loc="best")
    return fig


def _family_colorer():
    """model -> colour: the family's palette in the order models first appear."""
    model_colors: dict = {}

    def color(model):
        if model not in model_colors:
            family = split_model_name(model)[0] or "resnet"
            taken = sum((split_model_name(m)[0] or "resnet") == family for m in model_colors)
            model_colors[model] = _FAMILY_COLORS.get(family, _FAMILY_COLORS["resnet"])[taken % 3]
        return model_colors[model]

    return color


def _plot_measured_noise(ax, gap_ax, cells):
    """One error curve per (model, attention settings) and setting; the gap where both families ran."""
    color = _family_colorer()
    setting_keys = ["dataset", "width", "epochs"]
    series_keys = ["model", "attention_type", "learning_mode"]
    for setting, g_setting in groups(cells, setting_keys):
        where = series_label(dict(zip(setting_keys, setting)), setting_keys)  # with the input size
        by_family = {}
        for key, g in groups(g_setting, series_keys):
            row = dict(zip(series_keys, key))
            g = g.sort_values("noise_ratio")
            label = f"measured: {series_label(row, series_keys)} ({where})"
            errorbar(ax, g, 100 * g["noise_ratio"].to_numpy(float), color(row["model"]), label)
            per_noise = g.groupby("noise_ratio").agg(  # one point per noise level, however many cells
                model=("model", "first"),
                mean_test_error=("mean_test_error", "mean"),
                min_test_error=("min_test_error", "min"),
                max_test_error=("max_test_error", "max"),
            )
            by_family.setdefault(split_model_name(g["model"].iloc[0])[0], per_noise)
        if {"attention", "resnet"} <= set(by_family):
            _plot_noise_gap(gap_ax, by_family["attention"], by_family["resnet"], where)


def _plot_noise_gap(gap_ax, att, base, where):
    noise = sorted(set(att.index) & set(base.index))
    gap = 100 * (base.loc[noise, "mean_test_error"] - att.loc[noise, "mean_test_error"])
    low = 100 * (base.loc[noise, "min_test_error"] - att.loc[noise, "max_test_error"])
    high = 100 * (base.loc[noise, "max_test_error"] - att.loc[noise, "min_test_error"])
    gap_ax.errorbar(
        100 * np.asarray(noise),
        gap,
        yerr=np.vstack([gap - low, high - gap]),
        color="0.2",
        label=f"measured: {pretty_model_name(base['model'].iloc[0])} - "
        f"{pretty_model_name(att['model'].iloc[0])} ({where})",
        **MEASURED_STYLE,
    )


def _plot_paper_noise(ax, gap_ax):
    """The paper's Attention-92 and ResNet-164 curves on CIFAR-10 and their gap, dashed."""
    ref = paper.reference_for((5, 6))  # Table 5, and Table 6 for the clean point
    ref = ref[ref["model"].isin(["resnet164", "attention92"]) & (ref["dataset"] == "cifar10")]
    paper_curves = {}
    for model, g in ref.groupby("model", sort=False):
        g = g.sort_values("noise_ratio").set_index("noise_ratio")
        paper_curves[model] = g["test_error"]
        ax.plot(
            100 * g.index,
            100 * g["test_error"],
            color=_FAMILY_COLORS[split_model_name(model)[0]][0],
            label=f"paper: {pretty_model_name(model)}, CIFAR-10 (Table 5; 0% from Table 6)",
            **PAPER_STYLE,
        )
    paper_gap = 100 * (paper_curves["resnet164"] - paper_curves["attention92"])
    gap_ax.plot(
        100 * paper_gap.index, paper_gap, color="0.2", label="paper: ResNet-164 - Attention-92, CIFAR-10", **PAPER_STYLE
    )


def plot_learning_mode(results, study: str | None = None) -> Figure:
    """Test error (%) vs depth for ARL and NAL; paper Table 3 dashed."""
    res = as_results(results, study)
    fig, axes = new_figure(figsize=(7.5, 4.8))
    ax = axes[0, 0]
    cells = done_cells(res)
    mode_colors = {"arl": "tab:blue", "nal": "tab:red"}
    other = Colors(["x"])
    series_keys = ["learning_mode", "dataset", "attention_type", "width", "epochs", "noise_ratio"]
    if not cells.empty:
        cells = cells[cells["_family"] == "attention"]
        cells.loc[cells["noise_ratio"] == 0, "noise_ratio"] = None
    depths = set()
    for i, (key, g) in enumerate(groups(cells, series_keys)):
        row = dict(zip(series_keys, key))
        g = g.sort_values("_depth")
        depths |= set(g["_depth"])
        style = {} if i < 2 else {"marker": "s"}
        errorbar(
            ax,
            g,
            g["_depth"].to_numpy(float),
            mode_colors.get(row["learning_mode"], other[key]),
            "measured: " + series_label(row, series_keys),
            **style,
        )
    ref = paper.paper_table(3)
    for mode, g in ref.groupby("learning_mode", sort=True):
        g = g.sort_values("depth")
        depths |= set(g["depth"])
        ax.plot(
            g["depth"],
            100 * g["test_error"],
            color=mode_colors.get(mode, "0.4"),
            label=f"paper: {mode.upper()}, CIFAR-10 (Table 3)",
            **PAPER_STYLE,
        )
    if cells.empty:
        mark_gap(ax)
    ax.set_xticks(sorted(int(d) for d in depths))
    ax.set_xlabel("network depth (Attention-N, trunk layers)")
    ax.set_ylabel("test error (%)")
    ax.set_title("Attention residual learning (ARL) vs naive attention learning (NAL) (paper Table 3)")
    ax.title.set_fontsize(10)
    ax.grid(alpha=0.3)
    legend(ax, SPREAD_NOTE)
    return fig


def plot_attention_types(results, study: str | None = None) -> Figure:
    """Bars: test error (%) per attention type; paper Table 1 hatched."""
    res = as_results(results, study)
    fig, axes = new_figure(figsize=(7.5, 4.8))
    ax = axes[0, 0]
    cells = done_cells(res)
    if not cells.empty:
        cells = cells[cells["attention_type"].notna()]
    order = ["mixed", "channel", "spatial"]
    extra = sorted(set(cells["attention_type"]) - set(order)) if not cells.empty else []
    cats = order + extra
    series_keys = ["model", "dataset", "learning_mode", "width", "epochs", "noise_ratio"]
    series = groups(cells, series_keys)
    n = len(series) + 1
    width = 0.8 / n
    x = np.arange(len(cats))
    colors = Colors()
    for i, (key, g) in enumerate(series):
        row = dict(zip(series_keys, key))
        if row.get("noise_ratio") == 0:
            row["noise_ratio"] = None
        g = g.set_index("attention_type").reindex(cats)
        have = g["mean_test_error"].notna().to_numpy()
        y = 100 * g["mean_test_error"].to_numpy(float)
        lo = y - 100 * g["min_test_error"].to_numpy(float)
        hi = 100 * g["max_test_error"].to_numpy(float) - y
        pos = x - 0.4 + width * (i + 0.5)
        bars = ax.bar(
            pos[have],
            y[have],
            width * 0.95,
            yerr=np.vstack([lo, hi])[:, have],
            capsize=3,
            color=colors[key],
            label="measured: " + series_label(row, series_keys),
        )
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)
    _paper_type_bars(ax, cats, x - 0.4 + width * (n - 0.5), width)
    if cells.empty:
        mark_gap(ax)
    activations = {"mixed": "sigmoid", "channel": "L2 over channels", "spatial": "sigmoid(norm. map)"}
    ax.set_xticks(x, [f"{c}\n{activations.get(c, '')}" for c in cats])
    ax.set_xlabel("attention type (mask activation)")
    ax.set_ylabel("test error (%)")
    ax.set_title("Attention types: mixed vs channel vs spatial (paper Table 1)")
    ax.grid(axis="y", alpha=0.3)
    ax.margins(y=0.15)
    legend(ax, "error bars: min–max over seeds; hatched bars: paper", loc="upper left")
    return fig


def _paper_type_bars(ax, cats, pos, width):
    """The paper's Table 1 errors as hatched bars at `pos`, one per attention type it reports."""
    ref = paper.paper_table(1).set_index("attention_type").reindex(cats)
    have = ref["test_error"].notna().to_numpy()
    bars = ax.bar(
        pos[have],
        100 * ref["test_error"].to_numpy(float)[have],
        width * 0.95,
        facecolor="none",
        edgecolor="0.25",
        hatch="//",
        linestyle="--",
        label="paper: Attention-56, CIFAR-10 (Table 1)",
    )
    ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)


def plot_depth(results, study: str | None = None) -> Figure:
    """Test error (%) vs depth, one panel per dataset; paper Tables 6 and 3 (ARL) dashed."""
    res = as_results(results, study)
    cells = done_cells(res)
    datasets = list(PAPER_DATASET_NAMES)
    if not cells.empty:
        datasets += sorted(set(cells["dataset"].dropna()) - set(datasets))
    fig, axes = new_figure(1, len(datasets), figsize=(5.0 * len(datasets), 4.6))
    series_keys = ["_family", "attention_type", "learning_mode", "width", "epochs", "noise_ratio"]
    colors = Colors()
    t6 = paper.paper_table(6)
    t3 = paper.paper_table(3)
    for ax, ds in zip(axes[0], datasets):
        sub = cells[cells["dataset"] == ds] if not cells.empty else cells
        if not sub.empty:
            sub = sub.copy()
            sub.loc[sub["noise_ratio"] == 0, "noise_ratio"] = None
        for key, g in groups(sub, series_keys):
            row = dict(zip(series_keys, key))
            g = g.sort_values("_depth")
            errorbar(ax, g, g["_depth"].to_numpy(float), colors[key], "measured: " + series_label(row, series_keys))
        att = pd.concat(
            [
                t6[(t6["family"] == "attention") & (t6["dataset"] == ds)],
                t3[(t3["learning_mode"] == "arl") & (t3["dataset"] == ds)],
            ]
        )
        att = att.sort_values(["depth", "table"]).drop_duplicates("depth", keep="last")
        if len(att):
            tables = " and ".join(f"Table {t}" for t in sorted(att["table"].unique(), reverse=True))
            ax.plot(
                att["depth"],
                100 * att["test_error"],
                color="black",
                label=f"paper: Attention (mixed, ARL), {tables}",
                **PAPER_STYLE,
            )
        res_ref = t6[(t6["family"] == "resnet") & (t6["dataset"] == ds)].sort_values("depth")
        if len(res_ref):
            ax.plot(
                res_ref["depth"],
                100 * res_ref["test_error"],
                color="0.55",
                label="paper: ResNet-164 / -1001 (Table 6)",
                **{**PAPER_STYLE, "marker": "s"},
            )
        if sub.empty:
            mark_gap(ax)
        ax.set_xscale("log")
        ticks = sorted(set(att["depth"]) | set(res_ref["depth"]) | (set(sub["_depth"]) if len(sub) else set()))
        ax.set_xticks(ticks, [str(int(t)) for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("network depth (layers, log scale)")
        ax.set_ylabel("test error (%)")
        ax.set_title(pretty_dataset(ds))
        ax.grid(alpha=0.3)
        legend(ax, SPREAD_NOTE)
    fig.suptitle("Test error vs depth (paper Table 6; Table 3 ARL column for CIFAR-10)")
    return fig


def plot_params(results, study: str | None = None) -> Figure:
    """Trainable parameters (millions) vs depth: measured models vs paper Table 6."""
    res = as_results(results, study)
    fig, axes = new_figure(figsize=(7.0, 4.5))
    ax = axes[0, 0]
    t = res.trials
    t = t[t["params"].notna() & (t["status"] != "errored")] if len(t) else t
    colors = Colors()
    if len(t):
        t = t.assign(
            _depth=t["model"].map(lambda m: split_model_name(m)[1]),
            _family=t["model"].map(lambda m: split_model_name(m)[0]),
            _cls=t["num_classes"],
        )
        for key, g in groups(t, ["_family", "width", "_cls"]):
            g = g.groupby("_depth", as_index=False)["params"].median().sort_values("_depth")
            fam, w, k = key
            label = f"measured: {fam}, width {float(w):g}" + ("" if is_missing(k) else f", {int(k)} classes")
            ax.plot(g["_depth"], g["params"].astype(float) / 1e6, color=colors[key], label=label, marker="o")
    ref = paper.paper_table(6)
    ref = ref[ref["dataset"] == "cifar10"]
    for fam, g in ref[ref["family"].isin(["attention", "resnet"])].groupby("family"):
        g = g.sort_values("depth")
        ax.plot(
            g["depth"],
            g["params_m"],
            color="black" if fam == "attention" else "0.55",
            label=f"paper: {'Attention' if fam == 'attention' else 'ResNet'} (Table 6)",
            **PAPER_STYLE,
        )
    if t.empty:
        mark_gap(ax, "no parameter counts")
    ax.set_xscale("log")
    ref = ref[ref["family"].isin(["attention", "resnet"])]
    ticks = sorted(set(ref["depth"]) | (set(t["_depth"].dropna()) if len(t) else set()))
    ax.set_xticks(ticks, [str(int(v)) for v in ticks])
    ax.minorticks_off()
    ax.set_xlabel("network depth (layers, log scale)")
    ax.set_ylabel("trainable parameters (millions)")
    ax.set_title("Model size vs depth (paper Table 6)")
    ax.grid(alpha=0.3)
    legend(ax)
    return fig
