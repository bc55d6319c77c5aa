"""Read result folders into pandas frames whose columns and types come from `ran_core.results.store`.

A study folder holds ``trials.parquet`` and ``epochs.parquet`` (``results/README.md``). Every
column the recorder writes is kept, with the type its Arrow schema gives it: strings as Python
strings (None when null), integers as nullable ``Int64`` (so a column missing from an older file
is NA), booleans as nullable ``boolean``, lists as Python lists, binary as Python bytes. Only
pandas, pyarrow and numpy are imported, so notebooks and the report stay light.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

from ran_core.common.keys import EPOCHS_FILE, STATUSES, TRIALS_FILE  # noqa: F401 - re-exported
from ran_core.common.names import split_model_name
from ran_core.common.studies import STUDY_NAMES
from ran_core.results.schema import EPOCH_KEY, EPOCHS_SCHEMA, TRIAL_KEY, TRIALS_SCHEMA
from ran_core.results.store import file_columns, has_results, read_results

__all__ = [
    "DERIVED_EPOCH_COLUMNS",
    "DERIVED_TRIAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "ResultsWarning",
    "EPOCHS_FILE",
    "EPOCH_COLUMNS",
    "Results",
    "TRIALS_FILE",
    "TRIAL_COLUMNS",
    "as_results",
    "column_problems",
    "find_study_dirs",
    "is_missing",
    "load_results",
    "status_counts",
]


def _frame_dtype(arrow_type) -> str:
    """The dtype a column of this Arrow type is held in after loading."""
    if pa.types.is_string(arrow_type):
        return "string"
    if pa.types.is_floating(arrow_type):
        return "float64"
    if pa.types.is_integer(arrow_type):
        return "Int64"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_list(arrow_type):
        return "list<int>" if pa.types.is_integer(arrow_type.value_type) else "list<float>"
    if pa.types.is_binary(arrow_type):
        return "bytes"
    raise TypeError(f"No frame dtype for Arrow type {arrow_type}")


#: Every written column and its dtype after loading, in schema order (from ran_core.results.store).
TRIAL_COLUMNS: dict[str, str] = {f.name: _frame_dtype(f.type) for f in TRIALS_SCHEMA}
EPOCH_COLUMNS: dict[str, str] = {f.name: _frame_dtype(f.type) for f in EPOCHS_SCHEMA}
#: Added by load_results: ``family`` and ``depth`` parsed from ``model``; ``source``, the folder a row came from.
DERIVED_TRIAL_COLUMNS = {"family": "string", "depth": "Int64", "source": "string"}
DERIVED_EPOCH_COLUMNS = {"source": "string"}
#: Columns no reading can do without: the row keys, what became of a trial, what it trained on and
#: what it measured. A file lacking one would read as nulls there (every error "—", every row one
#: key), so the report refuses it (`column_problems`); any other column a file lacks (an older
#: file's) reads as nulls.
REQUIRED_COLUMNS = {
    "trials": (*TRIAL_KEY, "status", "model", "dataset", "final_test_error"),
    "epochs": (*EPOCH_KEY, "test_error"),
}


class ResultsWarning(UserWarning):
    """Something in a result folder was skipped or ignored (a damaged file, undeclared columns)."""


@dataclass
class Results:
    """Trials and epochs of one or more study folders.

    ``trials`` / ``epochs`` always carry every written column (plus the derived ones), even when
    empty. ``sources`` lists the study folders read; ``notes`` records what was missing or unreadable.
    """

    trials: pd.DataFrame
    epochs: pd.DataFrame
    sources: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def studies(self) -> list[str]:
        """Studies present in either file, declared studies first (ran_core.common.studies order)."""
        names = set(self.trials["study"].dropna()) | set(self.epochs["study"].dropna())
        known = [s for s in STUDY_NAMES if s in names]
        return known + sorted(names - set(known))

    @property
    def empty(self) -> bool:
        return self.trials.empty and self.epochs.empty

    def study(self, name: str | None) -> Results:
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
        lines = [
            f"Results: {len(self.trials)} trials, {len(self.epochs)} epoch rows from {len(self.sources)} folder(s)"
        ]
        for _, row in status_counts(self).iterrows():
            lines.append(
                f"  {row['study']}: {row['completed']} completed, {row['pruned']} pruned, "
                f"{row['errored']} errored, {row['other']} other"
            )
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def status_counts(results) -> pd.DataFrame:
    """Trials per study and status: one column per recorder status, then other and total."""
    t = results.trials if isinstance(results, Results) else results
    cols = list(STATUSES)
    if t.empty:
        return pd.DataFrame(columns=["study", *cols, "other", "total"]).astype(
            {c: "int64" for c in [*cols, "other", "total"]}
        )
    status = t["status"].where(t["status"].isin(cols), "other")
    counts = pd.crosstab(t["study"].fillna("?"), status)
    for c in [*cols, "other"]:
        if c not in counts:
            counts[c] = 0
    counts = counts[[*cols, "other"]].astype("int64")
    counts["total"] = counts.sum(axis=1)
    order = [s for s in STUDY_NAMES if s in counts.index] + sorted(set(counts.index) - set(STUDY_NAMES))
    return counts.loc[order].rename_axis(None, axis=1).reset_index(names="study")


def as_results(obj, study: str | None = None) -> Results:
    """The rows of ``study`` (None: all) as Results, from Results or a trials DataFrame (no epochs)."""
    if isinstance(obj, Results):
        return obj.study(study)
    if isinstance(obj, pd.DataFrame):
        trials = obj if study is None or obj.empty else obj[obj["study"] == study]
        epochs = _conform(pd.DataFrame(index=pd.RangeIndex(0)), {**EPOCH_COLUMNS, **DERIVED_EPOCH_COLUMNS})
        return Results(trials=trials, epochs=epochs)
    raise TypeError(f"Expected Results or a trials DataFrame. Received: {type(obj).__name__}")


def is_missing(value) -> bool:
    """True for None, NaN and NA; False for anything else, lists included."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _conform(df: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """Adds missing columns and coerces each to its dtype; columns not in ``columns`` follow."""
    out = df.copy()
    for name, kind in columns.items():
        col = out[name] if name in out.columns else pd.Series([None] * len(out), index=out.index, dtype=object)
        if kind == "float64":
            col = pd.to_numeric(col, errors="coerce").astype("float64")
        elif kind == "Int64":
            col = pd.to_numeric(col, errors="coerce").round().astype("Int64")
        elif kind == "boolean":
            col = col.astype(object).map(lambda v: None if is_missing(v) else bool(v)).astype("boolean")
        elif kind == "string":
            col = col.astype(object)
            col = col.where(col.notna(), None).map(lambda v: v if v is None else str(v)).astype(object)
        elif kind == "bytes":
            col = col.astype(object).map(lambda v: bytes(v) if isinstance(v, (bytes, bytearray)) else None)
        else:
            col = col.astype(object).map(_as_list(int if kind == "list<int>" else float)).astype(object)
        out[name] = col
    extra = [c for c in out.columns if c not in columns]
    return out[list(columns) + extra]


def _as_list(cast):
    """A converter of one cell to a list of `cast` values (None when null or not a sequence)."""

    def convert(value):
        if is_missing(value):
            return None
        try:
            return [cast(v) for v in value]
        except (TypeError, ValueError):
            return None

    return convert


def find_study_dirs(path: str | os.PathLike, max_depth: int = 3) -> list[Path]:
    """Folders under ``path`` (itself included) holding a result file.

    A folder with ``trials.parquet`` or ``epochs.parquet`` (or their parts, while a sweep runs) is a
    study folder and is not searched further; hidden folders are skipped.
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
    """One kind ("trials" or "epochs") of a result folder through `ran_core.results.read_results`
    (compacted file plus a running sweep's parts, the latest row per key)."""
    if not has_results(folder, kind):
        notes.append(f"{label}: {kind}.parquet missing")
        return None
    damaged = []
    try:
        table = read_results(folder, kind, damaged)
    except Exception as exc:  # noqa: BLE001 - a folder that cannot be read must not hide the others
        notes.append(f"{label}: {kind}.parquet unreadable ({type(exc).__name__}: {exc})")
        warnings.warn(f"Could not read {kind} of {folder}: {exc}", ResultsWarning, stacklevel=3)
        return None
    for error in damaged:  # skipped; every other file's rows are kept
        notes.append(f"{label}: {error}; its rows are skipped")
        warnings.warn(f"{error}; its rows are skipped, the other files' kept", ResultsWarning, stacklevel=3)
    return table.to_pandas()


def column_problems(path, study_dirs=None) -> tuple[list[str], list[str]]:
    """(missing, unknown) for the result files under ``path`` (or in ``study_dirs``): one line per
    file lacking a REQUIRED_COLUMNS column, and one per file holding columns the schema does not
    declare (they are ignored), each naming the file and the columns."""
    missing, unknown = [], []
    for folder in find_study_dirs(path) if study_dirs is None else study_dirs:
        for kind, declared in (("trials", TRIAL_COLUMNS), ("epochs", EPOCH_COLUMNS)):
            for file, names in file_columns(folder, kind).items():
                lacking = [name for name in REQUIRED_COLUMNS[kind] if name not in names]
                extra = [name for name in names if name not in declared]
                if lacking:
                    missing.append(f"{str(file)!r} lacks the required column(s) {', '.join(lacking)}")
                if extra:
                    unknown.append(f"{file.name} has column(s) no schema declares (ignored): {', '.join(extra)}")
    return missing, unknown


def load_results(path_or_paths: str | os.PathLike | Iterable[str | os.PathLike]) -> Results:
    """Reads one or many result folders.

    Each path may be a study folder (holding ``trials.parquet`` and/or ``epochs.parquet``) or a
    results root holding study folders. A missing file gives an empty frame with every column; a
    path that does not exist gives a warning and contributes nothing. Rows sharing the results'
    keys (``experiment_id``, ``trial_id`` [, ``epoch``]) are kept once (the last path wins).
    """
    paths = [path_or_paths] if isinstance(path_or_paths, (str, os.PathLike)) else list(path_or_paths)
    trial_columns = {**TRIAL_COLUMNS, "source": "string"}
    epoch_columns = {**EPOCH_COLUMNS, **DERIVED_EPOCH_COLUMNS}
    trials, epochs, sources, notes = [], [], [], []
    for p in map(Path, paths):
        if not p.exists():
            warnings.warn(f"Result folder {str(p)!r} does not exist; nothing loaded from it.", stacklevel=2)
            notes.append(f"{p} does not exist")
            continue
        for d in find_study_dirs(p):
            sources.append(d)
            for note in [line for lines in column_problems(d, study_dirs=[d]) for line in lines]:
                notes.append(f"{d.name}: {note}")
                warnings.warn(note, ResultsWarning, stacklevel=2)
            for kind, bucket, columns in (("trials", trials, trial_columns), ("epochs", epochs, epoch_columns)):
                df = _read(d, kind, notes, d.name)
                if df is None:
                    continue
                df = _conform(df.assign(source=str(d)), columns)
                df["study"] = df["study"].where(df["study"].notna(), d.name)
                bucket.append(df)
    empty = pd.DataFrame(index=pd.RangeIndex(0))
    t = pd.concat(trials, ignore_index=True) if trials else _conform(empty, trial_columns)
    e = pd.concat(epochs, ignore_index=True) if epochs else _conform(empty, epoch_columns)
    if len(t):
        t = t.drop_duplicates(list(TRIAL_KEY), keep="last")
    if len(e):
        e = e.drop_duplicates(list(EPOCH_KEY), keep="last")
        e = e.sort_values(["study", *EPOCH_KEY], kind="stable")
    split = [split_model_name(m) for m in t["model"]]
    t["family"] = pd.Series([s[0] for s in split], index=t.index, dtype=object)
    t["depth"] = pd.array([s[1] for s in split], dtype="Int64")
    t = t[[*TRIAL_COLUMNS, *DERIVED_TRIAL_COLUMNS]]
    return Results(trials=t.reset_index(drop=True), epochs=e.reset_index(drop=True), sources=sources, notes=notes)
