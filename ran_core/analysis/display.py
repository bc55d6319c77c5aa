"""Tables for reading: measured vs paper in percent, ASHA's rungs, plain-language gaps, Markdown.

The shape of a study's summary (cells or best trials, sort order, parameter columns) comes from
its entry in ran_core.studies.
"""

from __future__ import annotations

import pandas as pd

from ran_core.analysis.aggregation import asha_table, best_trials, cell_table
from ran_core.common.names import split_model_name
from ran_core.common.studies import study_info
from ran_core.results.loading import Results, is_missing, status_counts

__all__ = [
    "NO_PAPER_VALUE",
    "asha_rungs",
    "protocol",
    "selected_configuration",
    "study_notes",
    "study_summary",
    "to_markdown",
]

NO_PAPER_VALUE = "no paper value"


def _pct(v, digits=2) -> str:
    return "—" if is_missing(v) else f"{100 * float(v):.{digits}f}"


def _opt(v) -> str:
    return "—" if is_missing(v) else str(v)


def _noise(v) -> str:
    return "—" if is_missing(v) else f"{100 * v:g}"


def _measured(row) -> str:
    if row["n_completed"] == 0:
        return "no completed trials"
    if is_missing(row["std_test_error"]):
        return _pct(row["mean_test_error"])
    return f"{_pct(row['mean_test_error'])} ± {_pct(row['std_test_error'])}"


def _spread(row) -> str:
    return "—" if row["n_completed"] == 0 else f"{_pct(row['min_test_error'])}–{_pct(row['max_test_error'])}"


def _paper(row) -> str:
    return NO_PAPER_VALUE if is_missing(row["paper_test_error"]) else _pct(row["paper_test_error"])


def _delta(row) -> str:
    return "—" if is_missing(row["delta_test_error"]) else f"{100 * row['delta_test_error']:+.2f}"


def _source(row) -> str:
    return "—" if is_missing(row["paper_table"]) else f"Table {int(row['paper_table'])}"


def _sorted_cells(cells: pd.DataFrame, info) -> pd.DataFrame:
    """Cells in the study's declared order: ``depth`` parsed from the model, declared value orders."""
    if not info.sort_keys:
        return cells
    keyed = cells.assign(depth=cells["model"].map(lambda m: split_model_name(m)[1] or 0))
    for key, order in info.value_order.items():
        rank = {v: i for i, v in enumerate(order)}
        keyed[key] = cells[key].map(rank).fillna(len(rank))
    order = keyed.sort_values(list(info.sort_keys), kind="stable").index
    return cells.loc[order]


def study_summary(results, study: str) -> pd.DataFrame:
    """Measured vs paper, one row per cell, formatted for reading (percent).

    Columns: the cell's settings, ``seeds (n)``, ``test error % (mean ± std)`` over completed
    trials, ``min–max %``, ``paper %`` (or "no paper value"), ``Δ (pp)`` and the paper table, plus
    pruned / errored counts. A study declared with ``show_params`` adds measured and paper
    parameter counts; one whose summary is ``best_trials`` lists the best completed trials with
    their hyper-parameters instead.
    """
    info = study_info(study)
    if info.summary == "best_trials":
        return _best_trials_summary(results, study)
    cells = cell_table(results, study)
    columns = [
        "model",
        "dataset",
        "attention type",
        "learning mode",
        "noise %",
        "width",
        "epochs",
        "seeds (n)",
        "test error % (mean ± std)",
        "min–max %",
        "paper %",
        "Δ vs paper (pp)",
        "paper source",
        "pruned",
        "errored",
    ]
    if info.show_params:
        columns[6:6] = ["params (M)", "paper params (M)"]
    if cells.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for _, r in _sorted_cells(cells, info).iterrows():
        row = {
            "model": r["model"],
            "dataset": r["dataset"],
            "attention type": _opt(r["attention_type"]),
            "learning mode": _opt(r["learning_mode"]),
            "noise %": _noise(r["noise_ratio"]),
            "width": _opt(r["width"]),
            "epochs": _opt(r["epochs"]),
            "seeds (n)": f"{r['seeds'] or '—'} ({r['n_completed']})",
            "test error % (mean ± std)": _measured(r),
            "min–max %": _spread(r),
            "paper %": _paper(r),
            "Δ vs paper (pp)": _delta(r),
            "paper source": _source(r),
            "pruned": r["n_pruned"],
            "errored": r["n_errored"],
        }
        if info.show_params:
            row["params (M)"] = "—" if is_missing(r["params"]) else f"{r['params'] / 1e6:.2f}"
            row["paper params (M)"] = "—" if is_missing(r["paper_params_m"]) else f"{r['paper_params_m']:.1f}"
        rows.append(row)
    return pd.DataFrame(rows, columns=columns).reset_index(drop=True)


def _best_trials_summary(results, study: str, k: int = 10) -> pd.DataFrame:
    """The best configurations, ranked by what the study selects on: validation error (no test
    error beside them: the test set reports the selected one only, `selected_configuration`), or
    test error for results without a validation split (then labelled as such, with the paper)."""
    best = best_trials(results, study, k=k)
    if len(best) and best["selected_on"].iloc[0] == "final_val_error":
        return pd.DataFrame(
            [
                {**_configuration(r), "rank": i + 1, "validation error %": _pct(r["final_val_error"])}
                for i, r in best.iterrows()
            ],
            columns=["rank", *_CONFIGURATION, "validation error %"],
        )
    scores = ["final test error %", "best test error %", "paper %", "paper source"]
    rows = [
        {
            **_configuration(r),
            "rank": i + 1,
            "final test error %": _pct(r["final_test_error"]),
            "best test error %": _pct(r["best_test_error"]),
            "paper %": _paper(r),
            "paper source": _source(r),
        }
        for i, r in best.iterrows()
    ]
    return pd.DataFrame(rows, columns=["rank", *_CONFIGURATION, *scores])


_CONFIGURATION = [
    "trial_id",
    "model",
    "dataset",
    "attention type",
    "learning mode",
    "noise %",
    "width",
    "learning rate",
    "weight decay",
    "batch",
    "epochs run",
]


def _configuration(r) -> dict:
    return {
        "trial_id": r["trial_id"],
        "model": r["model"],
        "dataset": r["dataset"],
        "attention type": _opt(r["attention_type"]),
        "learning mode": _opt(r["learning_mode"]),
        "noise %": _noise(r["noise_ratio"]),
        "width": _opt(r["width"]),
        "learning rate": "—" if is_missing(r["learning_rate"]) else f"{r['learning_rate']:.3g}",
        "weight decay": "—" if is_missing(r["weight_decay"]) else f"{r['weight_decay']:.2g}",
        "batch": _opt(r["batch_size"]),
        "epochs run": f"{_opt(r['epochs_run'])}/{_opt(r['epochs'])}",
    }


def selected_configuration(results, study: str) -> pd.DataFrame:
    """The configuration a search selected (lowest final validation error) with its test error,
    shown once, beside the paper's value for its setting: one row, or none without a completed
    trial that held out a validation split."""
    best = best_trials(results, study, k=1)
    columns = [*_CONFIGURATION, "validation error %", "test error %", "paper %", "paper source"]
    if best.empty or best["selected_on"].iloc[0] != "final_val_error":
        return pd.DataFrame(columns=columns)
    r = best.iloc[0]
    row = {
        **_configuration(r),
        "validation error %": _pct(r["final_val_error"]),
        "test error %": _pct(r["final_test_error"]),
        "paper %": _paper(r),
        "paper source": _source(r),
    }
    return pd.DataFrame([row], columns=columns)


def protocol(results, study: str) -> str:
    """What the study selected on what, and what its test set was used for, in a few sentences."""
    trials = results.study(study).trials if isinstance(results, Results) else results
    if trials.empty:
        return ""
    shares = trials["validation_share"].astype("float64").fillna(0.0) if "validation_share" in trials else None
    search = study_info(study).summary == "best_trials"
    if shares is None or not (shares > 0).any():
        if search:
            return (
                "**Protocol: no validation split.** These trials held no images out, so the best "
                "configurations below are ranked by test error, which favours them: select on a split "
                "(`validation_share` > 0, as `sweeps/search.py` does) to report a test error that was not chosen on."
            )
        return (
            "**Protocol: the paper's.** Every training image trains (label noise, where set, corrupts "
            "training labels only); each cell reports its trials' test error at the final epoch, as the "
            "paper's tables do. Nothing is selected: the test set is scored, never chosen on."
        )
    held = ", ".join(f"{100 * v:g}%" for v in sorted(set(shares[shares > 0])))
    seeds = ", ".join(str(int(v)) for v in sorted(set(trials.loc[shares > 0, "split_seed"].dropna())))
    split = (
        f"{held} of each class's training images held out (stratified, split seed {seeds or '—'}, shared by every "
        "trial), with clean labels, never trained on; label noise, where set, corrupts the training part only."
    )
    if search:
        return (
            f"**Protocol: validation split.** {split} TPE minimised the validation error and the best "
            "configurations are ranked by it (ASHA's rungs rank by the metric `--rank-by` names, training loss "
            "by default, recorded in `experiments/<name>.json`). The test set was scored every epoch but is "
            "reported once, for the selected configuration."
        )
    return (
        f"**Protocol: validation split (asked for by a flag).** {split} Each cell still reports its trials' "
        "final-epoch test error; nothing is selected on the test set."
    )


def asha_rungs(results, study: str | None = None) -> pd.DataFrame:
    """Trials per inferred ASHA rung: ``rung``, ``epoch``, ``stopped here`` (pruned at this rung,
    or completed on the top rung), ``reached`` (trials that trained at least this many epochs) and
    the best validation error (%) among trials stopping here, or the best test error where the
    trials held out no validation split (a search compares configurations on validation only)."""
    table = asha_table(results, study)
    on = "val" if table["stop_val_error"].notna().any() else "test"
    best = f"best {'validation' if on == 'val' else 'test'} error % at stop"
    cols = ["rung", "epoch", "stopped here", "reached", "status", best]
    table = table.dropna(subset=["rung"])
    if table.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for (rung, epoch), g in table.groupby(["rung", "rung_epoch"], sort=True):
        rows.append(
            {
                "rung": int(rung),
                "epoch": int(epoch),
                "stopped here": len(g),
                "reached": int((table["epochs_run"].astype(float) >= float(epoch)).sum()),
                "status": ", ".join(f"{n} {s}" for s, n in g["status"].value_counts().sort_index().items()),
                best: _pct(g[f"stop_{on}_error"].min()),
            }
        )
    return pd.DataFrame(rows, columns=cols)


def study_notes(results: Results, study: str) -> list[str]:
    """Plain-language gaps of one study: missing files, empty cells, unmatched cells."""
    sel = results.study(study)
    if sel.empty:
        return [f"{study}: no result files found."]
    notes = [n for n in results.notes if n.startswith(f"{study}:")]
    counts = status_counts(sel)
    if not counts.empty:
        c = counts.iloc[0]
        if c["completed"] == 0:
            notes.append(f"{study}: no completed trials ({c['pruned']} pruned, {c['errored']} errored).")
        if c["errored"]:
            notes.append(f"{study}: {c['errored']} errored trial(s), listed under 'Errored trials'.")
    if sel.trials.empty and len(sel.epochs):
        notes.append(f"{study}: epochs logged but no trial rows; final errors unavailable.")
    if study_info(study).summary == "cells" and len(sel.trials):
        cells = cell_table(sel, study)
        empty = cells[cells["n_completed"] == 0]
        if len(empty):
            notes.append(
                f"{study}: cells without a completed trial: {', '.join(_cell_name(r) for _, r in empty.iterrows())}."
            )
        unmatched = cells[cells["paper_test_error"].isna()]
        if len(unmatched):
            notes.append(
                f"{study}: {len(unmatched)} of {len(cells)} cell(s) have no paper value "
                "(the paper reports other models, datasets or settings)."
            )
        if cells["width"].notna().any() and (cells["width"].dropna() != 1.0).any():
            notes.append(f"{study}: some cells use width ≠ 1.0; the paper's numbers are for full width.")
    return notes


def _cell_name(r) -> str:
    parts = [str(r["model"]), str(r["dataset"])]
    parts += [str(r[k]) for k in ("attention_type", "learning_mode") if not is_missing(r[k])]
    if not is_missing(r["noise_ratio"]) and r["noise_ratio"]:
        parts.append(f"noise {100 * r['noise_ratio']:g}%")
    return "/".join(parts)


def to_markdown(df: pd.DataFrame, empty: str = "_(no rows)_") -> str:
    """A GitHub-flavoured Markdown table (no extra dependency)."""
    if df is None or df.empty:
        return empty

    def cell(v) -> str:
        return ("—" if v is None or is_missing(v) else str(v)).replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(cell(c) for c in df.columns) + " |"
    sep = "| " + " | ".join("---" for _ in df.columns) + " |"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([header, sep, *body])
