"""Aggregate trials over seeds, set cells beside the paper, and infer where ASHA stopped trials.

Errors are fractions (as in the Parquet files). Final-error statistics use ``status ==
"completed"`` trials only: pruned trials (stopped by ASHA) are counted and appear in learning
curves and the ASHA table; errored trials are counted and listed, never aggregated. A *cell* is
one setting repeated over seeds: :data:`CELL_KEYS`. Every function takes Results or a trials
DataFrame.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ran_core.common import paper
from ran_core.common.keys import NO_SETTING
from ran_core.common.names import split_model_name
from ran_core.common.studies import STUDY_NAMES, study_info
from ran_core.results.loading import Results, as_results, is_missing

__all__ = [
    "CELL_KEYS",
    "aggregate",
    "asha_table",
    "best_trial",
    "best_trials",
    "cell_table",
    "confusion_matrix",
    "errored_trials",
    "join_paper",
    "learning_curves",
    "missing_studies",
    "selection_metric",
    "test_outcomes",
]

#: One cell = one setting repeated over seeds.
CELL_KEYS = ["study", "dataset", "model", "attention_type", "learning_mode", "noise_ratio", "width", "epochs"]
NOISE_DECIMALS = 3


def missing_studies(results: Results) -> list[str]:
    """Declared studies (ran_core.common.studies) with no rows at all."""
    return [s for s in STUDY_NAMES if s not in results.studies]


def _cell_frame(t: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    t = t.copy()
    if "noise_ratio" in t:
        t["noise_ratio"] = t["noise_ratio"].round(NOISE_DECIMALS)
    # ResNet baselines have no attention settings, whatever a row says.
    if {"family", "attention_type", "learning_mode"} <= set(t.columns):
        no_att = t["family"].notna() & (t["family"] != "attention")
        t.loc[no_att, ["attention_type", "learning_mode"]] = None
    for k in keys:
        if t[k].dtype == object:
            t[k] = t[k].where(t[k].notna(), None)
    return t


def aggregate(results, by: list[str] | None = None) -> pd.DataFrame:
    """Final test error per cell over seeds.

    One row per cell (``by``, default :data:`CELL_KEYS`) with ``n_trials``, ``n_completed``,
    ``n_pruned``, ``n_errored``, ``seeds`` (of completed trials), ``mean/std/min/max_test_error``
    and ``mean_best_test_error`` over completed trials only (fractions; ``std`` is NaN for one
    seed), and ``params`` (median trainable parameters). A cell whose trials were all pruned or
    errored keeps its row, with NaN statistics.
    """
    keys = list(by or CELL_KEYS)
    t = as_results(results).trials
    stat_cols = [
        "n_trials",
        "n_completed",
        "n_pruned",
        "n_errored",
        "seeds",
        "mean_test_error",
        "std_test_error",
        "min_test_error",
        "max_test_error",
        "mean_best_test_error",
        "params",
    ]
    if t.empty:
        out = pd.DataFrame(columns=keys + stat_cols)
        return out.astype({c: "float64" for c in stat_cols if c.endswith("error")})
    t = _cell_frame(t, keys)
    rows = []
    for key, g in t.groupby(keys, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        done = g[g["status"] == "completed"]
        err = done["final_test_error"].dropna().astype(float)
        params = g["params"].dropna()
        rows.append(
            {
                **{k: (None if is_missing(v) else v) for k, v in zip(keys, key)},
                "n_trials": len(g),
                "n_completed": len(done),
                "n_pruned": int((g["status"] == "pruned").sum()),
                "n_errored": int((g["status"] == "errored").sum()),
                "seeds": ",".join(map(str, sorted(int(s) for s in done["seed"].dropna()))),
                "mean_test_error": err.mean() if len(err) else np.nan,
                "std_test_error": err.std(ddof=1) if len(err) > 1 else np.nan,
                "min_test_error": err.min() if len(err) else np.nan,
                "max_test_error": err.max() if len(err) else np.nan,
                "mean_best_test_error": done["best_test_error"].dropna().astype(float).mean() if len(done) else np.nan,
                "params": int(params.astype(float).median()) if len(params) else None,
            }
        )
    out = pd.DataFrame(rows, columns=keys + stat_cols)
    out["params"] = pd.array(out["params"], dtype="Int64")
    return out


def join_paper(cells: pd.DataFrame, study: str | None = None) -> pd.DataFrame:
    """Adds the paper's value for each cell.

    Matches on model (family and depth), dataset, attention type, learning mode and noise ratio
    (:data:`ran_core.paper.JOIN_KEYS`). Adds ``paper_test_error`` (fraction), ``paper_params_m``,
    ``paper_table`` and ``delta_test_error`` (measured mean minus paper); NaN / None where the
    paper has no such setting. Each cell's ``study`` column (or ``study``) picks which tables are
    consulted (``paper_tables`` in ran_core.common.studies).
    """
    out = cells.copy()
    for c in ("paper_test_error", "paper_params_m"):
        out[c] = np.nan
    out["paper_table"] = pd.array([None] * len(out), dtype="Int64")
    if out.empty:
        out["delta_test_error"] = pd.Series(dtype="float64")
        return out
    missing = [k for k in paper.JOIN_KEYS if k not in out.columns]
    if missing:
        raise ValueError(
            f"join_paper needs columns {paper.JOIN_KEYS}; missing {missing}. Received columns: {list(out.columns)}"
        )
    studies = out["study"] if "study" in out.columns and study is None else pd.Series(study, index=out.index)
    family = out["model"].map(lambda m: split_model_name(m)[0])
    for s in pd.unique(studies.astype(object)):
        s = None if is_missing(s) else s
        mask = studies.isna() if s is None else (studies == s)
        ref = paper.reference_for(study_info(s).paper_tables)
        ref = ref.set_index(_key_index(ref))
        keys = _key_index(out[mask], family=family[mask])
        hit = [k in ref.index for k in keys]
        idx = out.index[mask][hit]
        matched = ref.loc[[k for k, h in zip(keys, hit) if h]]
        out.loc[idx, "paper_test_error"] = matched["test_error"].to_numpy()
        out.loc[idx, "paper_params_m"] = matched["params_m"].to_numpy()
        out.loc[idx, "paper_table"] = matched["table"].to_numpy()
    out["paper_test_error"] = out["paper_test_error"].astype("float64")
    out["paper_params_m"] = out["paper_params_m"].astype("float64")
    mean = out["mean_test_error"] if "mean_test_error" in out else out.get("final_test_error")
    out["delta_test_error"] = (mean.astype("float64") - out["paper_test_error"]) if mean is not None else np.nan
    return out


def _key_index(df: pd.DataFrame, family: pd.Series | None = None) -> pd.MultiIndex:
    """Hashable join keys: nulls become '<none>', noise rounded, names lower-cased."""
    cols = []
    for k in paper.JOIN_KEYS:
        v = df[k]
        if k == "noise_ratio":
            v = pd.to_numeric(v, errors="coerce").astype(float).round(NOISE_DECIMALS).fillna(0.0)
        else:
            v = v.astype(object).map(lambda x: NO_SETTING if is_missing(x) else str(x).lower())
            if family is not None and k in ("attention_type", "learning_mode"):
                v = v.where(family.fillna("attention") == "attention", NO_SETTING)
        cols.append(list(v))
    return pd.MultiIndex.from_arrays(cols, names=paper.JOIN_KEYS)


def cell_table(results, study: str | None = None) -> pd.DataFrame:
    """:func:`aggregate` of one study joined with the paper (numbers, fractions)."""
    return join_paper(aggregate(as_results(results, study)), study)


def errored_trials(results) -> pd.DataFrame:
    """Errored trials with their first error line."""
    t = as_results(results).trials
    cols = ["study", "experiment_id", "trial_id", "model", "dataset", "seed", "error"]
    return t.loc[t["status"] == "errored", cols].reset_index(drop=True)


def _completed(results, study):
    t = as_results(results, study).trials
    return t[(t["status"] == "completed") & t["final_test_error"].notna()]


def selection_metric(trials: pd.DataFrame) -> str:
    """The column a study's best trials are chosen by: ``final_val_error`` where its completed
    trials held out a validation split (a search always does), else ``final_test_error`` (a grid
    on the paper's protocol, or results recorded before the split existed)."""
    if "final_val_error" in trials and trials["final_val_error"].notna().any():
        return "final_val_error"
    return "final_test_error"


def _ranked(results, study):
    """Completed trials, best first by the study's selection metric (those lacking it left out)."""
    done = _completed(results, study)
    metric = selection_metric(done)
    done = done[done[metric].notna()]
    return done.sort_values([metric, "trial_id"], kind="stable"), metric


def best_trials(results, study: str | None = None, k: int = 10) -> pd.DataFrame:
    """The ``k`` completed trials with the lowest final validation error (the lowest final test
    error where no trial held out a validation split: :func:`selection_metric`), with their config
    and the paper's value for their setting; ``selected_on`` names the column they were ranked by."""
    done, metric = _ranked(results, study)
    done = done.head(k)
    out = join_paper(done.assign(noise_ratio=done["noise_ratio"].round(NOISE_DECIMALS)), study)
    return out.assign(selected_on=metric).reset_index(drop=True)


def best_trial(results, study: str | None = None, need_confusion: bool = False) -> pd.Series | None:
    """The completed trial with the lowest final validation error (test error without a split) or None."""
    done, _ = _ranked(results, study)
    if need_confusion:
        done = done[done["test_confusion"].map(lambda v: v is not None)]
    if done.empty:
        return None
    return done.iloc[0]


def confusion_matrix(trial: pd.Series) -> np.ndarray | None:
    """The trial's ``test_confusion`` as a ``num_classes x num_classes`` array (row = true label)."""
    values = trial.get("test_confusion")
    if values is None or (isinstance(values, float) and math.isnan(values)):
        return None
    flat = np.asarray(list(values), dtype=np.int64)
    k = trial.get("num_classes")
    k = int(k) if not is_missing(k) else int(round(math.sqrt(flat.size)))
    if k <= 0 or flat.size != k * k:
        raise ValueError(
            f"test_confusion of trial {trial.get('trial_id')!r} has {flat.size} entries; "
            f"expected num_classes**2 = {k * k}. Received: num_classes={trial.get('num_classes')!r}"
        )
    return flat.reshape(k, k)


def test_outcomes(trial: pd.Series) -> np.ndarray | None:
    """Which test images the trial got right at its last epoch: bool [test images] from its
    ``test_correct`` bits (the confusion matrix's sum gives their number); None where either is
    missing or they disagree."""
    packed, confusion = trial.get("test_correct"), confusion_matrix(trial)
    if confusion is None or not isinstance(packed, (bytes, bytearray)):
        return None
    count = int(confusion.sum())
    if len(packed) != -(-count // 8):
        return None
    correct = np.unpackbits(np.frombuffer(bytes(packed), dtype=np.uint8), count=count).astype(bool)
    return correct if int(correct.sum()) == int(np.trace(confusion)) else None


def learning_curves(results, study: str | None = None, include_errored: bool = False) -> pd.DataFrame:
    """Epoch rows with the owning trial's status and settings.

    Errored trials are dropped unless ``include_errored``; epochs whose trial has no row in
    ``trials.parquet`` (still running, or the file is missing) get status ``"unknown"``.
    """
    sel = as_results(results, study)
    info_cols = [
        "status",
        "model",
        "dataset",
        "attention_type",
        "learning_mode",
        "noise_ratio",
        "width",
        "seed",
        "epochs",
    ]
    info = sel.trials[["experiment_id", "trial_id", *info_cols]]
    ep = sel.epochs.merge(info, on=["experiment_id", "trial_id"], how="left", suffixes=("", "_trial"))
    ep["status"] = ep["status"].where(ep["status"].notna(), "unknown")
    if not include_errored:
        ep = ep[ep["status"] != "errored"]
    return ep.reset_index(drop=True)


def asha_table(results, study: str | None = None) -> pd.DataFrame:
    """Where each non-errored trial stopped.

    Columns: ``experiment_id``, ``trial_id``, ``model``, ``status``, ``epochs_run`` (from
    trials.parquet, else the last epoch logged), ``epochs`` (budget), ``stop_test_error`` and
    ``stop_val_error`` (test and validation error at the last epoch run; the latter null without a
    validation split), ``rung`` and ``rung_epoch``. The schema does not record ASHA's
    milestones, so rungs are inferred: the distinct ``epochs_run`` of pruned trials are rungs 0,
    1, ...; completed trials sit on the top rung at their budget. Trials seen only in
    epochs.parquet get status ``"unknown"``.
    """
    sel = as_results(results, study)
    t = sel.trials[sel.trials["status"] != "errored"]
    t = t[
        ["experiment_id", "trial_id", "model", "status", "epochs_run", "epochs", "final_test_error", "final_val_error"]
    ].copy()
    cols = [
        "experiment_id",
        "trial_id",
        "model",
        "status",
        "epochs_run",
        "epochs",
        "stop_test_error",
        "stop_val_error",
        "rung",
        "rung_epoch",
    ]
    if len(sel.epochs):
        last = sel.epochs.sort_values("epoch").groupby(["experiment_id", "trial_id"], as_index=False).last()
        t = t.merge(
            last[["experiment_id", "trial_id", "epoch", "test_error", "val_error"]],
            on=["experiment_id", "trial_id"],
            how="outer",
        )
        bad = sel.trials["status"] == "errored"
        errored = set(zip(sel.trials.loc[bad, "experiment_id"], sel.trials.loc[bad, "trial_id"]))
        t = t[[k not in errored for k in zip(t["experiment_id"], t["trial_id"])]]
        t["epochs_run"] = t["epochs_run"].fillna(t["epoch"].astype("Int64"))
        t["final_test_error"] = t["final_test_error"].fillna(t["test_error"])
        t["final_val_error"] = t["final_val_error"].fillna(t["val_error"])
        t["status"] = t["status"].where(t["status"].notna(), "unknown")
    if t.empty:
        return pd.DataFrame(columns=cols)
    t = t.rename(columns={"final_test_error": "stop_test_error", "final_val_error": "stop_val_error"})
    milestones = sorted({int(e) for e in t.loc[t["status"] == "pruned", "epochs_run"].dropna()})

    def rung(row):
        if row["status"] == "pruned" and not is_missing(row["epochs_run"]):
            return milestones.index(int(row["epochs_run"]))
        return len(milestones) if row["status"] == "completed" else None

    t["rung"] = pd.array([rung(r) for _, r in t.iterrows()], dtype="Int64")
    t["rung_epoch"] = pd.array(
        [
            int(r["epochs_run"]) if not is_missing(r["rung"]) and not is_missing(r["epochs_run"]) else None
            for _, r in t.iterrows()
        ],
        dtype="Int64",
    )
    t = t.sort_values(["epochs_run", "stop_test_error"], ascending=[False, True], kind="stable", na_position="last")
    return t[cols].reset_index(drop=True)
