"""Figures for the studies, measured values beside the paper's.

Every function returns a :class:`matplotlib.figure.Figure` drawn on an Agg
canvas. pyplot is never imported, so nothing is registered in pyplot's global
figure list and no backend is switched. Measured values are solid lines /
filled markers / plain bars with error bars spanning the min–max over seeds;
the paper's are dashed lines with hollow diamond markers (or hatched bars)
whose legend entries start with "paper". Where there is nothing to plot the
axes carry an annotation starting with "no " (e.g. "no completed trials")
instead of an exception.

Use :func:`show` in a notebook and :func:`save_png` to write a file.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ran_core import analysis, paper
from ran_core.results import write_atomic

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

PAPER_STYLE = dict(linestyle="--", marker="D", markerfacecolor="none", markersize=7, linewidth=1.3, alpha=0.9)
MEASURED_STYLE = dict(linestyle="-", marker="o", markersize=5, linewidth=1.8, capsize=3)
STATUS_COLORS = {"completed": "tab:green", "pruned": "tab:orange", "errored": "tab:red",
                 "unknown": "tab:gray", "other": "tab:gray"}
SPREAD_NOTE = "error bars: min–max over seeds; dashed, hollow markers: paper"
_PALETTE = [f"tab:{c}" for c in ("blue", "orange", "green", "red", "purple", "brown", "pink", "olive", "cyan", "gray")]


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def _figure(nrows=1, ncols=1, figsize=(7.0, 4.5), **kw):
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _gap(ax, text="no completed trials"):
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=11,
            color="0.35", wrap=True, zorder=10, bbox=dict(boxstyle="round", facecolor="0.95", edgecolor="0.7"))


def pretty_model(name) -> str:
    """``attention92`` -> ``Attention-92``, ``resnet164`` -> ``ResNet-164``, ``wrn28_10`` -> ``WRN-28-10``."""
    if name is None:
        return "?"
    s = str(name)
    for prefix, pretty in (("attention", "Attention-"), ("resnet", "ResNet-"), ("wrn", "WRN-")):
        if s.startswith(prefix):
            return pretty + s[len(prefix):].replace("_", "-")
    return s


def pretty_dataset(name) -> str:
    return {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}.get(str(name), str(name))


class _Colors:
    """Stable colour per key, in first-seen order."""

    def __init__(self, keys=()):
        self._map: dict = {}
        for k in keys:
            self[k]

    def __getitem__(self, key):
        if key not in self._map:
            self._map[key] = _PALETTE[len(self._map) % len(_PALETTE)]
        return self._map[key]


def _as_results(obj, study):
    if isinstance(obj, analysis.Results):
        return obj.study(study)
    if isinstance(obj, pd.DataFrame):
        t = obj if study is None or obj.empty else obj[obj["study"] == study]
        return analysis.Results(trials=t, epochs=analysis._empty_frame(
            {**analysis.EPOCH_COLUMNS, **analysis.DERIVED_EPOCH_COLUMNS}))
    raise TypeError(f"Expected analysis.Results or a trials DataFrame. Received: {type(obj).__name__}")


def _done_cells(res, keys=None) -> pd.DataFrame:
    cells = analysis.aggregate(res, by=keys)
    if cells.empty:
        return cells
    cells = cells[cells["n_completed"] > 0].copy()
    cells["_depth"] = cells["model"].map(lambda m: analysis._split_model(m)[1])
    cells["_family"] = cells["model"].map(lambda m: analysis._split_model(m)[0])
    return cells


def _series_label(row, fields) -> str:
    parts = []
    for f in fields:
        v = row.get(f)
        if v is None or analysis._isna(v):
            continue
        if f == "model":
            parts.append(pretty_model(v))
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


def _errorbar(ax, g, x, color, label, **style):
    y = 100 * g["mean_test_error"].to_numpy(float)
    lo = y - 100 * g["min_test_error"].to_numpy(float)
    hi = 100 * g["max_test_error"].to_numpy(float) - y
    st = {**MEASURED_STYLE, **style}
    ax.errorbar(x, y, yerr=np.vstack([lo, hi]), color=color, label=label, **st)


def _groups(df: pd.DataFrame, keys: list[str]):
    if df.empty:
        return []
    key_df = df[keys].astype(object).where(df[keys].notna(), None)
    out = []
    for key, idx in key_df.groupby(keys, dropna=False, sort=True).groups.items():
        key = key if isinstance(key, tuple) else (key,)
        key = tuple(None if analysis._isna(v) else v for v in key)  # NaN != NaN would split colours
        out.append((key, df.loc[idx]))
    return out


def _legend(ax, note=None, **kw):
    """Legend (if anything is labelled); ``note`` becomes its small title."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        leg = ax.legend(fontsize=8, title=note, title_fontsize=7, **kw)
        if note:
            leg.get_title().set_color("0.35")


# --------------------------------------------------------------------------
# study figures
# --------------------------------------------------------------------------

def plot_noise_robustness(results, study: str | None = "noise_robustness") -> Figure:
    """Left: test error (%) vs label-noise ratio (%), measured (solid) beside the paper's Table 5
    (+ Table 6 at 0 %, dashed); right: the gap, ResNet minus Attention error (pp), on one scale for
    both. Attention is blue and ResNet orange in both panels, whatever the depth."""
    from ran_core.data import IMAGE_SIZES

    res = _as_results(results, study)
    fig, axes = _figure(1, 2, figsize=(12.0, 4.8), gridspec_kw={"width_ratios": [1.3, 1.0]})
    ax, gap_ax = axes[0]
    cells = _done_cells(res)
    family_colors = {"attention": ["tab:blue", "tab:cyan", "tab:purple"],
                     "resnet": ["tab:orange", "tab:red", "tab:brown"]}
    model_colors: dict = {}

    def color(model):
        if model not in model_colors:
            family = "attention" if str(model).startswith("attention") else "resnet"
            taken = sum(str(m).startswith("attention") == (family == "attention") for m in model_colors)
            model_colors[model] = family_colors[family][taken % 3]
        return model_colors[model]

    setting_keys = ["dataset", "width", "epochs"]
    series_keys = ["model", "attention_type", "learning_mode"]
    for setting, g_setting in _groups(cells, setting_keys):
        where = _series_label(dict(zip(setting_keys, setting)), setting_keys)
        size = IMAGE_SIZES.get(setting[0])
        if setting[0] not in ("cifar10", "cifar100") and size:  # say what the input was
            where = where.replace(str(setting[0]), f"{setting[0]} {size}x{size}", 1)
        by_family = {}
        for key, g in _groups(g_setting, series_keys):
            row = dict(zip(series_keys, key))
            g = g.sort_values("noise_ratio")
            _errorbar(ax, g, 100 * g["noise_ratio"].to_numpy(float), color(row["model"]),
                      f"measured: {_series_label(row, series_keys)} ({where})")
            by_family.setdefault(g["_family"].iloc[0], g.set_index("noise_ratio"))
        if {"attention", "resnet"} <= set(by_family):
            att, base = by_family["attention"], by_family["resnet"]
            noise = sorted(set(att.index) & set(base.index))
            gap = 100 * (base.loc[noise, "mean_test_error"] - att.loc[noise, "mean_test_error"])
            low = 100 * (base.loc[noise, "min_test_error"] - att.loc[noise, "max_test_error"])
            high = 100 * (base.loc[noise, "max_test_error"] - att.loc[noise, "min_test_error"])
            gap_ax.errorbar(100 * np.asarray(noise), gap, yerr=np.vstack([gap - low, high - gap]), color="0.2",
                            label=f"measured: {pretty_model(base['model'].iloc[0])} - "
                                  f"{pretty_model(att['model'].iloc[0])} ({where})", **MEASURED_STYLE)
    ref = paper.reference_for("noise_robustness")
    ref = ref[ref["model"].isin(["resnet164", "attention92"]) & (ref["dataset"] == "cifar10")]
    paper_curves = {}
    for model, g in ref.groupby("model", sort=False):
        g = g.sort_values("noise_ratio").set_index("noise_ratio")
        paper_curves[model] = g["test_error"]
        ax.plot(100 * g.index, 100 * g["test_error"], color=family_colors[model.rstrip("0123456789")][0],
                label=f"paper: {pretty_model(model)}, CIFAR-10 (Table 5; 0% from Table 6)", **PAPER_STYLE)
    paper_gap = 100 * (paper_curves["resnet164"] - paper_curves["attention92"])
    gap_ax.plot(100 * paper_gap.index, paper_gap, color="0.2", label="paper: ResNet-164 - Attention-92, CIFAR-10",
                **PAPER_STYLE)
    gap_ax.axhline(0, color="0.5", linewidth=0.8)
    if cells.empty:
        _gap(ax)
    for a in (ax, gap_ax):
        a.set_xlabel("label noise ratio (% of training labels corrupted)")
        a.set_xticks([0, 10, 30, 50, 70])
        a.grid(alpha=0.3)
    ax.set_ylabel("test error (%)")
    ax.set_title("Test error under label noise (paper Table 5)")
    gap_ax.set_ylabel("ResNet error minus Attention error (pp)")
    gap_ax.set_title("Attention's advantage: above 0 = attention errs less")
    _legend(ax, SPREAD_NOTE, loc="upper left")
    _legend(gap_ax, "error bars: extremes over seeds", loc="best")
    return fig


def plot_learning_mode(results, study: str | None = "learning_mode") -> Figure:
    """Test error (%) vs depth for ARL and NAL; paper Table 3 dashed."""
    res = _as_results(results, study)
    fig, axes = _figure(figsize=(7.5, 4.8))
    ax = axes[0, 0]
    cells = _done_cells(res)
    mode_colors = {"arl": "tab:blue", "nal": "tab:red"}
    other = _Colors(["x"])
    series_keys = ["learning_mode", "dataset", "attention_type", "width", "epochs", "noise_ratio"]
    if not cells.empty:
        cells = cells[cells["_family"] == "attention"]
        cells.loc[cells["noise_ratio"] == 0, "noise_ratio"] = None
    depths = set()
    for i, (key, g) in enumerate(_groups(cells, series_keys)):
        row = dict(zip(series_keys, key))
        g = g.sort_values("_depth")
        depths |= set(g["_depth"])
        style = {} if i < 2 else {"marker": "s"}
        _errorbar(ax, g, g["_depth"].to_numpy(float), mode_colors.get(row["learning_mode"], other[key]),
                  "measured: " + _series_label(row, series_keys), **style)
    ref = paper.paper_table(3)
    for mode, g in ref.groupby("learning_mode", sort=True):
        g = g.sort_values("depth")
        depths |= set(g["depth"])
        ax.plot(g["depth"], 100 * g["test_error"], color=mode_colors.get(mode, "0.4"),
                label=f"paper: {mode.upper()}, CIFAR-10 (Table 3)", **PAPER_STYLE)
    if cells.empty:
        _gap(ax)
    ax.set_xticks(sorted(int(d) for d in depths))
    ax.set_xlabel("network depth (Attention-N, trunk layers)")
    ax.set_ylabel("test error (%)")
    ax.set_title("Attention residual learning (ARL) vs naive attention learning (NAL) (paper Table 3)")
    ax.title.set_fontsize(10)
    ax.grid(alpha=0.3)
    _legend(ax, SPREAD_NOTE)
    return fig


def plot_attention_types(results, study: str | None = "attention_types") -> Figure:
    """Bars: test error (%) per attention type; paper Table 1 hatched."""
    res = _as_results(results, study)
    fig, axes = _figure(figsize=(7.5, 4.8))
    ax = axes[0, 0]
    cells = _done_cells(res)
    if not cells.empty:
        cells = cells[cells["attention_type"].notna()]
    order = ["mixed", "channel", "spatial"]
    extra = sorted(set(cells["attention_type"]) - set(order)) if not cells.empty else []
    cats = order + extra
    series_keys = ["model", "dataset", "learning_mode", "width", "epochs", "noise_ratio"]
    groups = _groups(cells, series_keys)
    n = len(groups) + 1
    width = 0.8 / n
    x = np.arange(len(cats))
    colors = _Colors()
    for i, (key, g) in enumerate(groups):
        row = dict(zip(series_keys, key))
        if row.get("noise_ratio") == 0:
            row["noise_ratio"] = None
        g = g.set_index("attention_type").reindex(cats)
        have = g["mean_test_error"].notna().to_numpy()
        y = 100 * g["mean_test_error"].to_numpy(float)
        lo = y - 100 * g["min_test_error"].to_numpy(float)
        hi = 100 * g["max_test_error"].to_numpy(float) - y
        pos = x - 0.4 + width * (i + 0.5)
        bars = ax.bar(pos[have], y[have], width * 0.95, yerr=np.vstack([lo, hi])[:, have], capsize=3,
                      color=colors[key], label="measured: " + _series_label(row, series_keys))
        ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)
    ref = paper.paper_table(1).set_index("attention_type").reindex(cats)
    have = ref["test_error"].notna().to_numpy()
    pos = x - 0.4 + width * (n - 0.5)
    bars = ax.bar(pos[have], 100 * ref["test_error"].to_numpy(float)[have], width * 0.95, facecolor="none",
                  edgecolor="0.25", hatch="//", linestyle="--", label="paper: Attention-56, CIFAR-10 (Table 1)")
    ax.bar_label(bars, fmt="%.2f", fontsize=7, padding=2)
    if cells.empty:
        _gap(ax)
    ax.set_xticks(x, [f"{c}\n" + {"mixed": "sigmoid", "channel": "L2 over channels",
                                  "spatial": "sigmoid(norm. map)"}.get(c, "") for c in cats])
    ax.set_xlabel("attention type (mask activation)")
    ax.set_ylabel("test error (%)")
    ax.set_title("Attention types: mixed vs channel vs spatial (paper Table 1)")
    ax.grid(axis="y", alpha=0.3)
    ax.margins(y=0.15)
    _legend(ax, "error bars: min–max over seeds; hatched bars: paper", loc="upper left")
    return fig


def plot_depth(results, study: str | None = "depth") -> Figure:
    """Test error (%) vs depth, one panel per dataset; paper Tables 6 and 3 (ARL) dashed."""
    res = _as_results(results, study)
    cells = _done_cells(res)
    datasets = ["cifar10", "cifar100"]
    if not cells.empty:
        datasets += sorted(set(cells["dataset"].dropna()) - set(datasets))
    fig, axes = _figure(1, len(datasets), figsize=(5.0 * len(datasets), 4.6))
    series_keys = ["_family", "attention_type", "learning_mode", "width", "epochs", "noise_ratio"]
    colors = _Colors()
    t6 = paper.paper_table(6)
    t3 = paper.paper_table(3)
    for ax, ds in zip(axes[0], datasets):
        sub = cells[cells["dataset"] == ds] if not cells.empty else cells
        if not sub.empty:
            sub = sub.copy()
            sub.loc[sub["noise_ratio"] == 0, "noise_ratio"] = None
        for key, g in _groups(sub, series_keys):
            row = dict(zip(series_keys, key))
            g = g.sort_values("_depth")
            _errorbar(ax, g, g["_depth"].to_numpy(float), colors[key], "measured: " + _series_label(row, series_keys))
        att = pd.concat([t6[(t6["family"] == "attention") & (t6["dataset"] == ds)],
                         t3[(t3["learning_mode"] == "arl") & (t3["dataset"] == ds)]])
        att = att.sort_values(["depth", "table"]).drop_duplicates("depth", keep="last")
        if len(att):
            tables = " and ".join(f"Table {t}" for t in sorted(att["table"].unique(), reverse=True))
            ax.plot(att["depth"], 100 * att["test_error"], color="black",
                    label=f"paper: Attention (mixed, ARL), {tables}", **PAPER_STYLE)
        res_ref = t6[(t6["family"] == "resnet") & (t6["dataset"] == ds)].sort_values("depth")
        if len(res_ref):
            ax.plot(res_ref["depth"], 100 * res_ref["test_error"], color="0.55",
                    label="paper: ResNet-164 / -1001 (Table 6)", **{**PAPER_STYLE, "marker": "s"})
        if sub.empty:
            _gap(ax)
        ax.set_xscale("log")
        ticks = sorted(set(att["depth"]) | set(res_ref["depth"]) | (set(sub["_depth"]) if len(sub) else set()))
        ax.set_xticks(ticks, [str(int(t)) for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("network depth (layers, log scale)")
        ax.set_ylabel("test error (%)")
        ax.set_title(pretty_dataset(ds))
        ax.grid(alpha=0.3)
        _legend(ax, SPREAD_NOTE)
    fig.suptitle("Test error vs depth (paper Table 6; Table 3 ARL column for CIFAR-10)")
    return fig


def plot_params(results, study: str | None = "depth") -> Figure:
    """Trainable parameters (millions) vs depth: measured models vs paper Table 6."""
    res = _as_results(results, study)
    fig, axes = _figure(figsize=(7.0, 4.5))
    ax = axes[0, 0]
    t = res.trials
    t = t[t["params"].notna() & (t["status"] != "errored")] if len(t) else t
    colors = _Colors()
    if len(t):
        t = t.assign(_depth=t["model"].map(lambda m: analysis._split_model(m)[1]),
                     _family=t["model"].map(lambda m: analysis._split_model(m)[0]),
                     _cls=t["num_classes"])
        for key, g in _groups(t, ["_family", "width", "_cls"]):
            g = g.groupby("_depth", as_index=False)["params"].median().sort_values("_depth")
            fam, w, k = key
            label = f"measured: {fam}, width {float(w):g}" + ("" if analysis._isna(k) else f", {int(k)} classes")
            ax.plot(g["_depth"], g["params"].astype(float) / 1e6, color=colors[key], label=label, marker="o")
    ref = paper.paper_table(6)
    ref = ref[ref["dataset"] == "cifar10"]
    for fam, g in ref[ref["family"].isin(["attention", "resnet"])].groupby("family"):
        g = g.sort_values("depth")
        ax.plot(g["depth"], g["params_m"], color="black" if fam == "attention" else "0.55",
                label=f"paper: {'Attention' if fam == 'attention' else 'ResNet'} (Table 6)", **PAPER_STYLE)
    if t.empty:
        _gap(ax, "no parameter counts")
    ax.set_xscale("log")
    ref = ref[ref["family"].isin(["attention", "resnet"])]
    ticks = sorted(set(ref["depth"]) | (set(t["_depth"].dropna()) if len(t) else set()))
    ax.set_xticks(ticks, [str(int(v)) for v in ticks])
    ax.minorticks_off()
    ax.set_xlabel("network depth (layers, log scale)")
    ax.set_ylabel("trainable parameters (millions)")
    ax.set_title("Model size vs depth (paper Table 6)")
    ax.grid(alpha=0.3)
    _legend(ax)
    return fig


# --------------------------------------------------------------------------
# trial-level figures
# --------------------------------------------------------------------------

def plot_learning_curves(results, study: str | None = None, max_trials: int = 200) -> Figure:
    """Test error (%) vs epoch per trial: completed solid, pruned dashed ending in ×.

    Colour = model; where the trials differ in label noise, one panel per model instead, coloured
    by noise level (light = clean, dark = noisiest). Errored trials are left out; trials without a
    row in trials.parquet are dotted grey ("unknown"). At most ``max_trials`` curves (the best by
    last test error first).
    """
    from matplotlib import colormaps

    if not isinstance(results, analysis.Results):
        raise TypeError(f"plot_learning_curves needs analysis.Results (epochs). Received: {type(results).__name__}")
    curves = analysis.learning_curves(results, study)
    noise = curves["noise_ratio"].round(3) if len(curves) else curves["noise_ratio"]
    by_noise = noise.nunique() > 1
    models = sorted(curves["model"].dropna().unique())
    panels = models if by_noise else [None]
    fig, axes = _figure(1, len(panels), figsize=(7.5 if len(panels) == 1 else 4.6 * len(panels), 4.8),
                        sharey=True)
    title = "Learning curves" + (f": {study}" if study else "")
    if curves.empty:
        _gap(axes[0, 0], "no epochs logged")
    else:
        last = curves.sort_values("epoch").groupby(["experiment_id", "trial_id"])["test_error"].last()
        keep = set(last.sort_values().index[:max_trials])
        colors = _Colors(models)
        levels = sorted(noise.dropna().unique())
        shades = {level: colormaps["viridis_r"](0.15 + 0.8 * i / max(1, len(levels) - 1))
                  for i, level in enumerate(levels)}
        for key, g in curves.groupby(["experiment_id", "trial_id"], sort=True):
            if key not in keep:
                continue
            g = g.sort_values("epoch")
            status, model, level = g["status"].iloc[0], g["model"].iloc[0], noise.loc[g.index[0]]
            known = not (model is None or analysis._isna(model))
            ax = axes[0, panels.index(model) if by_noise and known else 0]
            color = "0.5" if not known else (shades[level] if by_noise and level in shades else colors[model])
            x, y = g["epoch"].to_numpy(float), 100 * g["test_error"].to_numpy(float)
            if status == "completed":
                ax.plot(x, y, color=color, linewidth=1.5, alpha=0.85)
            elif status == "pruned":
                ax.plot(x, y, color=color, linewidth=1.0, linestyle="--", alpha=0.6)
                ax.plot(x[-1:], y[-1:], color=color, marker="x", markersize=7, linestyle="none")
            else:
                ax.plot(x, y, color="0.5", linewidth=1.0, linestyle=":", alpha=0.8)
        if by_noise:
            handles = [Line2D([], [], color=shades[lv], linewidth=2, label=f"noise {100 * lv:g}%") for lv in levels]
        else:
            handles = [Line2D([], [], color=colors[m], linewidth=2, label=pretty_model(m)) for m in colors._map]
        handles += [Line2D([], [], color="0.3", linewidth=1.5, label="completed"),
                    Line2D([], [], color="0.3", linewidth=1.0, linestyle="--", marker="x", label="pruned (ASHA)")]
        if (curves["status"] == "unknown").any():
            handles.append(Line2D([], [], color="0.5", linestyle=":", label="no trial row"))
        axes[0, 0].legend(handles=handles, fontsize=8)
        if len(last) > max_trials:
            title += f" (best {max_trials} of {len(last)} trials)"
    for i, ax in enumerate(axes[0]):
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title(pretty_model(panels[i]) if by_noise else title, fontsize=10 if by_noise else None)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("test error (%)")
    if by_noise:
        fig.suptitle(title + ", coloured by label noise")
    return fig


def plot_asha(results, study: str | None = "search") -> Figure:
    """ASHA: epochs run per trial, the rung each stopped at, pruned vs completed."""
    if not isinstance(results, analysis.Results):
        results = _as_results(results, None)
    table = analysis.asha_table(results, study)
    fig, axes = _figure(1, 2, figsize=(11.0, max(4.5, min(12.0, 0.18 * len(table) + 2.0))),
                        gridspec_kw={"width_ratios": [1.4, 1.0]})
    ax, ax2 = axes[0]
    n_err = int((results.study(study).trials["status"] == "errored").sum())
    if table.empty:
        _gap(ax, "no trials")
        _gap(ax2, "no trials")
    else:
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
            ax.text(float(r["rung_epoch"]), 1.01, f"rung {int(r['rung'])}\n(ep {int(r['rung_epoch'])})",
                    transform=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=7)
        ax.set_xlabel("epochs trained")
        ax.set_ylabel("trial (sorted by epochs trained)")
        statuses = [s for s in ("completed", "pruned", "unknown") if (table["status"] == s).any()]
        ax.legend(handles=[Patch(color=STATUS_COLORS[s], label=f"{s} ({int((table['status'] == s).sum())})")
                           for s in statuses], fontsize=8, loc="lower right")
        for status, marker in (("completed", "o"), ("pruned", "x"), ("unknown", ".")):
            g = table[table["status"] == status]
            if len(g):
                ax2.scatter(g["epochs_run"].astype(float), 100 * g["stop_test_error"].astype(float),
                            color=STATUS_COLORS[status], marker=marker, label=status, s=36)
        counts = table.groupby("rung_epoch")["trial_id"].count()
        for ep, c in counts.items():
            ax2.annotate(f"n={c}", (float(ep), 1.0), xycoords=("data", "axes fraction"), ha="center",
                         va="bottom", fontsize=7)
        ax2.set_xlabel("epochs trained (stop point)")
        ax2.set_ylabel("test error at stop (%)")
        ax2.grid(alpha=0.3)
        ax2.legend(fontsize=8)
        ax2.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(f"ASHA: where each trial stopped ({study or 'all studies'}"
                 + (f"; {n_err} errored trial(s) not shown" if n_err else "") + ")")
    return fig


def plot_confusion(results, trial_id: str | None = None, study: str | None = None,
                   normalize: bool = True) -> Figure:
    """Confusion matrix of one trial (default: best completed) from ``test_confusion``.

    Rows are true labels, columns predictions; with ``normalize`` the colour is
    the fraction of each true class, and counts are written in the cells
    when there are at most 12 classes.
    """
    res = _as_results(results, study)
    fig, axes = _figure(figsize=(6.2, 5.4))
    ax = axes[0, 0]
    t = res.trials
    if trial_id is None:
        row = analysis.best_trial(res, None, need_confusion=True)
        missing = "no completed trial with a confusion matrix"
    else:
        hit = t[t["trial_id"] == trial_id]
        row = hit.iloc[0] if len(hit) else None
        missing = f"no trial {trial_id!r}" if row is None else f"no confusion matrix for trial {trial_id!r}"
    m = analysis.confusion_matrix(row) if row is not None else None
    if m is None:
        _gap(ax, missing)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title("Confusion matrix")
        return fig
    k = m.shape[0]
    totals = m.sum(axis=1, keepdims=True)
    frac = np.divide(m, totals, out=np.zeros(m.shape, dtype=float), where=totals > 0)
    img = ax.imshow(frac if normalize else m, cmap="Blues", vmin=0, vmax=1 if normalize else None,
                    interpolation="nearest")
    fig.colorbar(img, ax=ax, label="fraction of true class" if normalize else "test images")
    if k <= 12:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if frac[i, j] > 0.5 else "black")
        ax.set_xticks(range(k))
        ax.set_yticks(range(k))
    ax.set_xlabel("predicted label (class index)")
    ax.set_ylabel("true label (class index)")
    err = row.get("final_test_error")
    err_s = "" if analysis._isna(err) else f", test error {100 * err:.2f}%"
    ax.set_title(f"{pretty_model(row['model'])} on {pretty_dataset(row['dataset'])}, trial {row['trial_id']}"
                 f"\n{row['status']}{err_s}, noise {100 * (row['noise_ratio'] or 0):g}%", fontsize=10)
    return fig


def plot_status_counts(results) -> Figure:
    """Trials per study by status (stacked bars); known studies with no files are marked."""
    if not isinstance(results, analysis.Results):
        results = _as_results(results, None)
    counts = analysis.status_counts(results).set_index("study")
    studies = list(analysis.KNOWN_STUDIES) + [s for s in counts.index if s not in analysis.KNOWN_STUDIES]
    counts = counts.reindex(studies).fillna(0)
    fig, axes = _figure(figsize=(7.5, 0.5 * len(studies) + 2.0))
    ax = axes[0, 0]
    y = np.arange(len(studies))[::-1]
    left = np.zeros(len(studies))
    for status in ("completed", "pruned", "errored", "other"):
        vals = counts[status].to_numpy(float)
        if vals.sum():
            ax.barh(y, vals, left=left, color=STATUS_COLORS[status], label=status)
        left += vals
    for yi, s, total in zip(y, studies, counts["total"]):
        if total == 0:
            ax.text(0.01, yi, "no result files", transform=ax.get_yaxis_transform(), va="center",
                    fontsize=8, color="0.4")
    if counts["total"].sum() == 0:
        _gap(ax, "no trials")
    ax.set_yticks(y, studies)
    ax.set_xlabel("trials")
    ax.set_title("Trials per study and status")
    ax.grid(axis="x", alpha=0.3)
    _legend(ax, loc="lower right")
    return fig


# --------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------

def figure_to_png(fig: Figure, dpi: int = 110) -> bytes:
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
