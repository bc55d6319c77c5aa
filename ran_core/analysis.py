"""Load sweep results, aggregate over seeds, and set them beside the paper.

Reads the two files every study writes (``results/README.md``):
``<study>/trials.parquet`` (one row per trial) and ``<study>/epochs.parquet``
(one row per trial and epoch). Only pandas / pyarrow / numpy are imported, so
notebooks and the report stay light.

Conventions
-----------
* Errors are fractions in the frames (as in the Parquet files); the display
  tables built by :func:`study_summary` show percent and say so.
* Final-error statistics use ``status == "completed"`` trials only. Pruned
  trials (stopped by ASHA) are counted and appear in learning curves and the
  ASHA table; errored trials are counted and listed, never aggregated.
* A *cell* is one setting repeated over seeds: :data:`CELL_KEYS`.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from ran_core import paper
from ran_core.results import has_results, read_results

__all__ = [
    "CELL_KEYS",
    "EPOCH_COLUMNS",
    "KNOWN_STUDIES",
    "NO_PAPER_VALUE",
    "Results",
    "TRIAL_COLUMNS",
    "aggregate",
    "asha_rungs",
    "asha_table",
    "best_trial",
    "best_trials",
    "cell_table",
    "confusion_matrix",
    "errored_trials",
    "find_study_dirs",
    "join_paper",
    "learning_curves",
    "load_results",
    "missing_studies",
    "status_counts",
    "study_notes",
    "study_summary",
    "to_markdown",
]

KNOWN_STUDIES = ("noise_robustness", "depth", "attention_types", "learning_mode", "search")
TRIALS_FILE = "trials.parquet"
EPOCHS_FILE = "epochs.parquet"
NO_PAPER_VALUE = "no paper value"

# Documented columns and the dtype each is held in after loading. Integers
# use the nullable "Int64" so that a column missing from an older file can be
# filled with NA; "object" columns hold strings (None when null), and
# ``test_confusion`` holds one sequence of ints per row.
_S, _F, _I, _L = "string", "float64", "Int64", "list"
TRIAL_COLUMNS: dict[str, str] = {
    "experiment_id": _S, "study": _S, "trial_id": _S, "status": _S, "error": _S,
    "model": _S, "attention_type": _S, "learning_mode": _S, "noise_ratio": _F,
    "dataset": _S, "width": _F, "learning_rate": _F, "weight_decay": _F,
    "batch_size": _I, "epochs": _I, "precision": _S, "seed": _I, "num_classes": _I,
    "params": _I, "epochs_run": _I, "final_test_error": _F, "best_test_error": _F,
    "final_test_accuracy": _F, "final_train_accuracy": _F,
    "final_clean_train_accuracy": _F, "test_confusion": _L, "wall_time_s": _F,
    "images_per_s": _F, "node": _S, "accelerator": _S, "backend": _S,
    "keras_version": _S, "backend_version": _S, "ray_version": _S,
    "optuna_version": _S, "python_version": _S,
}
EPOCH_COLUMNS: dict[str, str] = {
    "experiment_id": _S, "study": _S, "trial_id": _S, "epoch": _I,
    "train_loss": _F, "train_accuracy": _F, "clean_train_accuracy": _F,
    "test_loss": _F, "test_accuracy": _F, "test_error": _F, "learning_rate": _F,
    "epoch_time_s": _F, "images_per_s": _F,
}
#: Columns added by :func:`load_results` to ``trials`` (``family``, ``depth``
#: parsed from ``model``; ``source``: the folder a row came from) and to
#: ``epochs`` (``source``).
DERIVED_TRIAL_COLUMNS = {"family": _S, "depth": _I, "source": _S}
DERIVED_EPOCH_COLUMNS = {"source": _S}

#: One cell = one setting repeated over seeds.
CELL_KEYS = ["study", "dataset", "model", "attention_type", "learning_mode",
             "noise_ratio", "width", "epochs"]

_NOISE_DECIMALS = 3


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------

@dataclass
class Results:
    """Trials and epochs of one or more study folders.

    ``trials`` / ``epochs`` always carry every documented column (plus the
    derived ones), even when empty. ``sources`` lists the study folders read;
    ``notes`` records what was missing or unreadable.
    """

    trials: pd.DataFrame
    epochs: pd.DataFrame
    sources: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def studies(self) -> list[str]:
        """Studies present in either file, known studies first."""
        names = set(self.trials["study"].dropna()) | set(self.epochs["study"].dropna())
        known = [s for s in KNOWN_STUDIES if s in names]
        return known + sorted(names - set(known))

    @property
    def empty(self) -> bool:
        return self.trials.empty and self.epochs.empty

    def study(self, name: str | None) -> "Results":
        """The rows of one study (``None``: everything)."""
        if name is None:
            return self
        return Results(
            trials=self.trials[self.trials["study"] == name].reset_index(drop=True),
            epochs=self.epochs[self.epochs["study"] == name].reset_index(drop=True),
            sources=list(self.sources),
            notes=[n for n in self.notes if n.startswith(f"{name}:") or ":" not in n],
        )

    def __repr__(self) -> str:
        counts = status_counts(self)
        lines = [f"Results: {len(self.trials)} trials, {len(self.epochs)} epoch rows "
                 f"from {len(self.sources)} folder(s)"]
        for _, row in counts.iterrows():
            lines.append(f"  {row['study']}: {row['completed']} completed, {row['pruned']} pruned, "
                         f"{row['errored']} errored, {row['other']} other")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _empty_frame(columns: dict[str, str]) -> pd.DataFrame:
    return _conform(pd.DataFrame(index=pd.RangeIndex(0)), columns)


def _conform(df: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """Add missing documented columns and coerce each to its dtype."""
    out = df.copy()
    for name, kind in columns.items():
        col = out[name] if name in out.columns else pd.Series([None] * len(out), index=out.index, dtype=object)
        if kind == _F:
            col = pd.to_numeric(col, errors="coerce").astype("float64")
        elif kind == _I:
            col = pd.to_numeric(col, errors="coerce").round().astype("Int64")
        elif kind == _S:
            col = col.astype(object)
            col = col.where(col.notna(), None).map(lambda v: v if v is None else str(v)).astype(object)
        else:  # list column
            col = col.astype(object).map(_as_int_list).astype(object)
        out[name] = col
    extra = [c for c in out.columns if c not in columns]
    return out[list(columns) + extra]


def _as_int_list(value):
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    try:
        return [int(v) for v in value]
    except (TypeError, ValueError):
        return None


def _split_model(name) -> tuple[str | None, int | None]:
    m = re.match(r"([A-Za-z]+?)_?(\d+)", str(name)) if name is not None else None
    return (m.group(1).lower(), int(m.group(2))) if m else (None, None)


def find_study_dirs(path: str | os.PathLike, max_depth: int = 3) -> list[Path]:
    """Folders under ``path`` (itself included) holding a result file.

    A folder with ``trials.parquet`` or ``epochs.parquet`` (or their parts,
    while a sweep runs) is a study folder and is not searched further; hidden
    folders are skipped.
    """
    root = Path(path)
    found: list[Path] = []

    def walk(p: Path, depth: int):
        if has_results(p, "trials") or has_results(p, "epochs"):
            found.append(p)
            return
        if depth >= max_depth:
            return
        try:
            children = sorted(c for c in p.iterdir() if c.is_dir() and not c.name.startswith("."))
        except OSError:
            return
        for child in children:
            walk(child, depth + 1)

    if root.is_dir():
        walk(root, 0)
    return found


def _read(folder: Path, kind: str, notes: list[str], label: str) -> pd.DataFrame | None:
    if not has_results(folder, kind):
        notes.append(f"{label}: {kind}.parquet missing")
        return None
    try:
        return read_results(folder, kind).to_pandas()
    except Exception as exc:  # a damaged file must not hide the others
        notes.append(f"{label}: {kind}.parquet unreadable ({type(exc).__name__}: {exc})")
        warnings.warn(f"Could not read {kind} of {folder}: {exc}", stacklevel=3)
        return None


def load_results(path_or_paths: str | os.PathLike | Iterable[str | os.PathLike]) -> Results:
    """Read one or many result folders.

    Each path may be a study folder (holding ``trials.parquet`` and/or
    ``epochs.parquet``) or a results root holding study folders. A missing
    file gives an empty frame with the documented columns; a path that does
    not exist gives a warning and contributes nothing. Rows sharing
    ``(experiment_id, trial_id[, epoch])`` are kept once (the last path wins).
    """
    if isinstance(path_or_paths, (str, os.PathLike)):
        paths = [path_or_paths]
    else:
        paths = list(path_or_paths)
    trials, epochs, sources, notes = [], [], [], []
    for p in paths:
        p = Path(p)
        if not p.exists():
            warnings.warn(f"Result folder {str(p)!r} does not exist; nothing loaded from it.", stacklevel=2)
            notes.append(f"{p} does not exist")
            continue
        for d in find_study_dirs(p):
            sources.append(d)
            for kind, bucket, columns in (("trials", trials, TRIAL_COLUMNS), ("epochs", epochs, EPOCH_COLUMNS)):
                df = _read(d, kind, notes, d.name)
                if df is None:
                    continue
                df = _conform(df, columns)
                df["study"] = df["study"].where(df["study"].notna(), d.name)
                df["source"] = str(d)
                bucket.append(df)

    t = pd.concat(trials, ignore_index=True) if trials else _empty_frame(TRIAL_COLUMNS)
    e = pd.concat(epochs, ignore_index=True) if epochs else _empty_frame(EPOCH_COLUMNS)
    for df in (t, e):  # frames were conformed one by one; only the source column may be absent
        if "source" not in df.columns:
            df["source"] = pd.Series([None] * len(df), index=df.index, dtype=object)
    if len(t):
        t = t.drop_duplicates(["experiment_id", "trial_id"], keep="last")
    if len(e):
        e = e.drop_duplicates(["experiment_id", "trial_id", "epoch"], keep="last")
        e = e.sort_values(["study", "experiment_id", "trial_id", "epoch"], kind="stable")
    split = [_split_model(m) for m in t["model"]]
    t["family"] = pd.Series([s[0] for s in split], index=t.index, dtype=object)
    t["depth"] = pd.array([s[1] for s in split], dtype="Int64")
    t = t[list(TRIAL_COLUMNS) + list(DERIVED_TRIAL_COLUMNS)]
    return Results(trials=t.reset_index(drop=True), epochs=e.reset_index(drop=True),
                   sources=sources, notes=notes)


def _trials(obj) -> pd.DataFrame:
    return obj.trials if isinstance(obj, Results) else obj


def _select(obj, study: str | None) -> Results:
    if isinstance(obj, Results):
        return obj.study(study)
    t = obj if study is None or obj.empty else obj[obj["study"] == study]
    return Results(trials=t, epochs=_empty_frame({**EPOCH_COLUMNS, **DERIVED_EPOCH_COLUMNS}))


# --------------------------------------------------------------------------
# Counting and aggregation
# --------------------------------------------------------------------------

def status_counts(results) -> pd.DataFrame:
    """Trials per study and status: completed, pruned, errored, other, total."""
    t = _trials(results)
    cols = ["completed", "pruned", "errored"]
    if t.empty:
        return pd.DataFrame(columns=["study", *cols, "other", "total"]).astype(
            {c: "int64" for c in [*cols, "other", "total"]})
    status = t["status"].where(t["status"].isin(cols), "other")
    counts = pd.crosstab(t["study"].fillna("?"), status)
    for c in [*cols, "other"]:
        if c not in counts:
            counts[c] = 0
    counts = counts[[*cols, "other"]].astype("int64")
    counts["total"] = counts.sum(axis=1)
    order = [s for s in KNOWN_STUDIES if s in counts.index] + sorted(set(counts.index) - set(KNOWN_STUDIES))
    return counts.loc[order].rename_axis(None, axis=1).reset_index(names="study")


def missing_studies(results: Results) -> list[str]:
    """Known studies with no rows at all."""
    return [s for s in KNOWN_STUDIES if s not in results.studies]


def _cell_frame(t: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    t = t.copy()
    if "noise_ratio" in t:
        t["noise_ratio"] = t["noise_ratio"].round(_NOISE_DECIMALS)
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

    One row per cell (``by``, default :data:`CELL_KEYS`) with ``n_trials``,
    ``n_completed``, ``n_pruned``, ``n_errored``, ``seeds`` (of completed
    trials), ``mean/std/min/max_test_error`` and ``mean_best_test_error``
    over completed trials only (fractions; ``std`` is NaN for one seed), and
    ``params`` (median trainable parameters). A cell whose trials were all
    pruned or errored keeps its row, with NaN statistics.
    """
    keys = list(by or CELL_KEYS)
    t = _trials(results)
    stat_cols = ["n_trials", "n_completed", "n_pruned", "n_errored", "seeds",
                 "mean_test_error", "std_test_error", "min_test_error",
                 "max_test_error", "mean_best_test_error", "params"]
    if t.empty:
        out = pd.DataFrame(columns=keys + stat_cols)
        return out.astype({c: "float64" for c in stat_cols if c.endswith("error")})
    t = _cell_frame(t, keys)
    rows = []
    for key, g in t.groupby(keys, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        done = g[g["status"] == "completed"]
        err = done["final_test_error"].dropna().astype(float)
        seeds = sorted(int(s) for s in done["seed"].dropna())
        params = g["params"].dropna()
        rows.append({
            **{k: (None if _isna(v) else v) for k, v in zip(keys, key)},
            "n_trials": len(g),
            "n_completed": len(done),
            "n_pruned": int((g["status"] == "pruned").sum()),
            "n_errored": int((g["status"] == "errored").sum()),
            "seeds": ",".join(map(str, seeds)),
            "mean_test_error": err.mean() if len(err) else np.nan,
            "std_test_error": err.std(ddof=1) if len(err) > 1 else np.nan,
            "min_test_error": err.min() if len(err) else np.nan,
            "max_test_error": err.max() if len(err) else np.nan,
            "mean_best_test_error": done["best_test_error"].dropna().astype(float).mean() if len(done) else np.nan,
            "params": int(params.astype(float).median()) if len(params) else None,
        })
    out = pd.DataFrame(rows, columns=keys + stat_cols)
    out["params"] = pd.array(out["params"], dtype="Int64")
    return out


def _isna(v) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def join_paper(cells: pd.DataFrame, study: str | None = None) -> pd.DataFrame:
    """Add the paper's value for each cell.

    Matches on model (family and depth), dataset, attention type, learning
    mode and noise ratio (:data:`ran_core.paper.JOIN_KEYS`). Adds
    ``paper_test_error`` (fraction), ``paper_params_m``, ``paper_table`` and
    ``delta_test_error`` (measured mean minus paper); NaN / None where the
    paper has no such setting. Each cell's ``study`` column (or ``study``)
    picks which tables are consulted (:data:`ran_core.paper.STUDY_TABLES`).
    """
    out = cells.copy()
    add = ["paper_test_error", "paper_params_m", "paper_table"]
    for c in add:
        out[c] = np.nan if c != "paper_table" else None
    out["paper_table"] = pd.array(out["paper_table"], dtype="Int64") if len(out) else pd.array([], dtype="Int64")
    if out.empty:
        out["delta_test_error"] = pd.Series(dtype="float64")
        return out
    missing = [k for k in paper.JOIN_KEYS if k not in out.columns]
    if missing:
        raise ValueError(f"join_paper needs columns {paper.JOIN_KEYS}; missing {missing}. "
                         f"Received columns: {list(out.columns)}")
    studies = out["study"] if "study" in out.columns and study is None else pd.Series(study, index=out.index)
    family = out["model"].map(lambda m: _split_model(m)[0])
    for s in pd.unique(studies.astype(object)):
        s = None if _isna(s) else s
        mask = studies.isna() if s is None else (studies == s)
        ref = paper.reference_for(s).set_index(_key_index(paper.reference_for(s)))
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
            v = pd.to_numeric(v, errors="coerce").astype(float).round(_NOISE_DECIMALS).fillna(0.0)
        else:
            v = v.astype(object).map(lambda x: "<none>" if _isna(x) else str(x).lower())
            if family is not None and k in ("attention_type", "learning_mode"):
                v = v.where(family.fillna("attention") == "attention", "<none>")
        cols.append(list(v))
    return pd.MultiIndex.from_arrays(cols, names=paper.JOIN_KEYS)


def cell_table(results, study: str | None = None) -> pd.DataFrame:
    """:func:`aggregate` of one study joined with the paper (numbers, fractions)."""
    sel = _select(results, study)
    return join_paper(aggregate(sel), study)


# --------------------------------------------------------------------------
# Trials, curves, ASHA
# --------------------------------------------------------------------------

def errored_trials(results) -> pd.DataFrame:
    """Errored trials with their first error line."""
    t = _trials(results)
    cols = ["study", "experiment_id", "trial_id", "model", "dataset", "seed", "error"]
    return t.loc[t["status"] == "errored", cols].reset_index(drop=True)


def best_trials(results, study: str | None = None, k: int = 10) -> pd.DataFrame:
    """The ``k`` completed trials with the lowest final test error, with their config."""
    t = _select(results, study).trials
    done = t[(t["status"] == "completed") & t["final_test_error"].notna()]
    done = done.sort_values(["final_test_error", "trial_id"], kind="stable").head(k)
    return join_paper(done.assign(noise_ratio=done["noise_ratio"].round(_NOISE_DECIMALS)), study).reset_index(drop=True)


def best_trial(results, study: str | None = None, need_confusion: bool = False) -> pd.Series | None:
    """The completed trial with the lowest final test error (or None)."""
    t = _select(results, study).trials
    done = t[(t["status"] == "completed") & t["final_test_error"].notna()]
    if need_confusion:
        done = done[done["test_confusion"].map(lambda v: v is not None)]
    if done.empty:
        return None
    return done.sort_values(["final_test_error", "trial_id"], kind="stable").iloc[0]


def confusion_matrix(trial: pd.Series) -> np.ndarray | None:
    """The trial's ``test_confusion`` as a ``num_classes x num_classes`` array (row = true label)."""
    values = trial.get("test_confusion")
    if values is None or (isinstance(values, float) and math.isnan(values)):
        return None
    flat = np.asarray(list(values), dtype=np.int64)
    k = trial.get("num_classes")
    k = int(k) if not _isna(k) else int(round(math.sqrt(flat.size)))
    if k <= 0 or flat.size != k * k:
        raise ValueError(f"test_confusion of trial {trial.get('trial_id')!r} has {flat.size} entries; "
                         f"expected num_classes**2 = {k * k}. Received: num_classes={trial.get('num_classes')!r}")
    return flat.reshape(k, k)


def learning_curves(results: Results, study: str | None = None, include_errored: bool = False) -> pd.DataFrame:
    """Epoch rows with the owning trial's status and settings.

    Errored trials are dropped unless ``include_errored``; epochs whose trial
    has no row in ``trials.parquet`` (still running, or the file is missing)
    get status ``"unknown"``.
    """
    sel = _select(results, study)
    info_cols = ["status", "model", "dataset", "attention_type", "learning_mode",
                 "noise_ratio", "width", "seed", "epochs"]
    info = sel.trials[["experiment_id", "trial_id", *info_cols]]
    ep = sel.epochs.merge(info, on=["experiment_id", "trial_id"], how="left", suffixes=("", "_trial"))
    ep["status"] = ep["status"].where(ep["status"].notna(), "unknown")
    if not include_errored:
        ep = ep[ep["status"] != "errored"]
    return ep.reset_index(drop=True)


def asha_table(results: Results, study: str | None = "search") -> pd.DataFrame:
    """Where each non-errored trial stopped.

    Columns: ``experiment_id``, ``trial_id``, ``model``, ``status``,
    ``epochs_run`` (from trials.parquet, else the last epoch logged),
    ``epochs`` (budget), ``stop_test_error`` (test error at the last epoch
    run), ``rung`` and ``rung_epoch``. The schema does not record ASHA's
    milestones, so rungs are inferred: the distinct ``epochs_run`` of pruned
    trials are rungs 0, 1, ...; completed trials sit on the top rung at their
    budget. Trials seen only in epochs.parquet get status ``"unknown"``.
    """
    sel = _select(results, study)
    t = sel.trials[sel.trials["status"] != "errored"]
    t = t[["experiment_id", "trial_id", "model", "status", "epochs_run", "epochs", "final_test_error"]].copy()
    ep = sel.epochs
    cols = ["experiment_id", "trial_id", "model", "status", "epochs_run", "epochs",
            "stop_test_error", "rung", "rung_epoch"]
    if len(ep):
        last = ep.sort_values("epoch").groupby(["experiment_id", "trial_id"], as_index=False).last()
        last = last[["experiment_id", "trial_id", "epoch", "test_error"]]
        t = t.merge(last, on=["experiment_id", "trial_id"], how="outer")
        errored = set(zip(*[sel.trials.loc[sel.trials["status"] == "errored", c] for c in ("experiment_id", "trial_id")]))
        t = t[[k not in errored for k in zip(t["experiment_id"], t["trial_id"])]]
        t["epochs_run"] = t["epochs_run"].fillna(t["epoch"].astype("Int64"))
        t["final_test_error"] = t["final_test_error"].fillna(t["test_error"])
        t["status"] = t["status"].where(t["status"].notna(), "unknown")
    if t.empty:
        return pd.DataFrame(columns=cols)
    t = t.rename(columns={"final_test_error": "stop_test_error"})
    milestones = sorted({int(e) for e in t.loc[t["status"] == "pruned", "epochs_run"].dropna()})
    top = len(milestones)

    def rung(row):
        if row["status"] == "pruned" and not _isna(row["epochs_run"]):
            return milestones.index(int(row["epochs_run"]))
        if row["status"] == "completed":
            return top
        return None

    t["rung"] = pd.array([rung(r) for _, r in t.iterrows()], dtype="Int64")
    t["rung_epoch"] = pd.array(
        [int(r["epochs_run"]) if not _isna(r["rung"]) and not _isna(r["epochs_run"]) else None for _, r in t.iterrows()],
        dtype="Int64")
    t = t.sort_values(["epochs_run", "stop_test_error"], ascending=[False, True], kind="stable", na_position="last")
    return t[cols].reset_index(drop=True)


def asha_rungs(results: Results, study: str | None = "search") -> pd.DataFrame:
    """Trials per inferred ASHA rung: ``rung``, ``epoch``, ``stopped here``
    (pruned at this rung, or completed on the top rung), ``reached`` (trials
    that trained at least this many epochs) and the best test error (%) among
    trials stopping here."""
    table = asha_table(results, study)
    cols = ["rung", "epoch", "stopped here", "reached", "status", "best test error % at stop"]
    table = table.dropna(subset=["rung"])
    if table.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for (rung, epoch), g in table.groupby(["rung", "rung_epoch"], sort=True):
        rows.append({
            "rung": int(rung), "epoch": int(epoch), "stopped here": len(g),
            "reached": int((table["epochs_run"].astype(float) >= float(epoch)).sum()),
            "status": ", ".join(f"{n} {s}" for s, n in g["status"].value_counts().sort_index().items()),
            "best test error % at stop": _pct(g["stop_test_error"].min()),
        })
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------
# Display tables
# --------------------------------------------------------------------------

def _pct(v, digits=2) -> str:
    return "—" if _isna(v) else f"{100 * float(v):.{digits}f}"


def _fmt_measured(row) -> str:
    if row["n_completed"] == 0:
        return "no completed trials"
    if _isna(row["std_test_error"]):
        return _pct(row["mean_test_error"])
    return f"{_pct(row['mean_test_error'])} ± {_pct(row['std_test_error'])}"


def _fmt_range(row) -> str:
    if row["n_completed"] == 0:
        return "—"
    return f"{_pct(row['min_test_error'])}–{_pct(row['max_test_error'])}"


def _fmt_paper(row) -> str:
    return NO_PAPER_VALUE if _isna(row["paper_test_error"]) else _pct(row["paper_test_error"])


def _fmt_delta(row) -> str:
    d = row["delta_test_error"]
    return "—" if _isna(d) else f"{100 * d:+.2f}"


def _fmt_table(row) -> str:
    return "—" if _isna(row["paper_table"]) else f"Table {int(row['paper_table'])}"


def _opt(v) -> str:
    return "—" if _isna(v) else str(v)


def study_summary(results, study: str) -> pd.DataFrame:
    """Measured vs paper, one row per cell, formatted for reading (percent).

    Columns: the cell's settings, ``seeds (n)``, ``test error % (mean ± std)``
    over completed trials, ``min–max %``, ``paper %`` (or "no paper value"),
    ``Δ (pp)`` and the paper table, plus pruned / errored counts. The
    ``depth`` study adds measured and paper parameter counts; ``search``
    lists the best completed trials with their hyper-parameters instead.
    """
    if study == "search":
        return _search_summary(results)
    cells = cell_table(results, study)
    columns = ["model", "dataset", "attention type", "learning mode", "noise %", "width",
               "epochs", "seeds (n)", "test error % (mean ± std)", "min–max %", "paper %",
               "Δ vs paper (pp)", "paper source", "pruned", "errored"]
    if study == "depth":
        columns[6:6] = ["params (M)", "paper params (M)"]
    if cells.empty:
        return pd.DataFrame(columns=columns)
    if study in ("noise_robustness", "depth", "learning_mode"):
        cells = cells.assign(_d=cells["model"].map(lambda m: _split_model(m)[1] or 0))
        order = {"noise_robustness": ["dataset", "model", "noise_ratio"],
                 "depth": ["dataset", "_d", "model"],
                 "learning_mode": ["dataset", "learning_mode", "_d"]}[study]
        cells = cells.sort_values(order, kind="stable").drop(columns="_d")
    elif study == "attention_types":
        rank = {"mixed": 0, "channel": 1, "spatial": 2}
        cells = cells.assign(_a=cells["attention_type"].map(lambda a: rank.get(a, 3)))
        cells = cells.sort_values(["dataset", "model", "_a"], kind="stable").drop(columns="_a")
    rows = []
    for _, r in cells.iterrows():
        row = {
            "model": r["model"], "dataset": r["dataset"],
            "attention type": _opt(r["attention_type"]), "learning mode": _opt(r["learning_mode"]),
            "noise %": "—" if _isna(r["noise_ratio"]) else f"{100 * r['noise_ratio']:g}",
            "width": _opt(r["width"]), "epochs": _opt(r["epochs"]),
            "seeds (n)": f"{r['seeds'] or '—'} ({r['n_completed']})",
            "test error % (mean ± std)": _fmt_measured(r), "min–max %": _fmt_range(r),
            "paper %": _fmt_paper(r), "Δ vs paper (pp)": _fmt_delta(r), "paper source": _fmt_table(r),
            "pruned": r["n_pruned"], "errored": r["n_errored"],
        }
        if study == "depth":
            row["params (M)"] = "—" if _isna(r["params"]) else f"{r['params'] / 1e6:.2f}"
            row["paper params (M)"] = "—" if _isna(r["paper_params_m"]) else f"{r['paper_params_m']:.1f}"
        rows.append(row)
    return pd.DataFrame(rows, columns=columns).reset_index(drop=True)


def _search_summary(results, k: int = 10) -> pd.DataFrame:
    best = best_trials(results, "search", k=k)
    columns = ["rank", "trial_id", "model", "dataset", "attention type", "learning mode", "noise %",
               "width", "learning rate", "weight decay", "batch", "epochs run", "final test error %",
               "best test error %", "paper %", "paper source"]
    rows = []
    for i, r in best.iterrows():
        rows.append({
            "rank": i + 1, "trial_id": r["trial_id"], "model": r["model"], "dataset": r["dataset"],
            "attention type": _opt(r["attention_type"]), "learning mode": _opt(r["learning_mode"]),
            "noise %": "—" if _isna(r["noise_ratio"]) else f"{100 * r['noise_ratio']:g}",
            "width": _opt(r["width"]),
            "learning rate": "—" if _isna(r["learning_rate"]) else f"{r['learning_rate']:.3g}",
            "weight decay": "—" if _isna(r["weight_decay"]) else f"{r['weight_decay']:.2g}",
            "batch": _opt(r["batch_size"]), "epochs run": f"{_opt(r['epochs_run'])}/{_opt(r['epochs'])}",
            "final test error %": _pct(r["final_test_error"]), "best test error %": _pct(r["best_test_error"]),
            "paper %": _fmt_paper(r), "paper source": _fmt_table(r),
        })
    return pd.DataFrame(rows, columns=columns)


def study_notes(results: Results, study: str) -> list[str]:
    """Plain-language gaps of one study: missing files, empty cells, unmatched cells."""
    notes = []
    sel = results.study(study)
    if sel.empty:
        return [f"{study}: no result files found."]
    notes += [n for n in results.notes if n.startswith(f"{study}:")]
    counts = status_counts(sel)
    if not counts.empty:
        c = counts.iloc[0]
        if c["completed"] == 0:
            notes.append(f"{study}: no completed trials ({c['pruned']} pruned, {c['errored']} errored).")
        if c["errored"]:
            notes.append(f"{study}: {c['errored']} errored trial(s), listed under 'Errored trials'.")
    if sel.trials.empty and len(sel.epochs):
        notes.append(f"{study}: epochs logged but no trial rows; final errors unavailable.")
    if study != "search" and len(sel.trials):
        cells = cell_table(sel, study)
        empty = cells[cells["n_completed"] == 0]
        if len(empty):
            names = ", ".join(_cell_name(r) for _, r in empty.iterrows())
            notes.append(f"{study}: cells without a completed trial: {names}.")
        unmatched = cells[cells["paper_test_error"].isna()]
        if len(unmatched):
            notes.append(f"{study}: {len(unmatched)} of {len(cells)} cell(s) have no paper value "
                         "(the paper reports other models, datasets or settings).")
        if cells["width"].notna().any() and (cells["width"].dropna() != 1.0).any():
            notes.append(f"{study}: some cells use width ≠ 1.0; the paper's numbers are for full width.")
    return notes


def _cell_name(r) -> str:
    parts = [str(r["model"]), str(r["dataset"])]
    if not _isna(r["attention_type"]):
        parts.append(str(r["attention_type"]))
    if not _isna(r["learning_mode"]):
        parts.append(str(r["learning_mode"]))
    if not _isna(r["noise_ratio"]) and r["noise_ratio"]:
        parts.append(f"noise {100 * r['noise_ratio']:g}%")
    return "/".join(parts)


def to_markdown(df: pd.DataFrame, empty: str = "_(no rows)_") -> str:
    """A GitHub-flavoured Markdown table (no extra dependency)."""
    if df is None or df.empty:
        return empty

    def cell(v) -> str:
        s = "—" if v is None or _isna(v) else str(v)
        return s.replace("|", "\\|").replace("\n", " ")

    header = "| " + " | ".join(cell(c) for c in df.columns) + " |"
    sep = "| " + " | ".join("---" for _ in df.columns) + " |"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([header, sep, *body])
