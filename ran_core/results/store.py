"""Result rows on disk: part files while a sweep runs, one compacted Parquet file per kind, every row once.

A result folder holds, per kind ("trials", "epochs"), a compacted file `<kind>.parquet` and, while
a sweep runs, part files under `parts/<kind>/`. Recording appends one small part per flush
(`append`), so its cost depends on the rows flushed, never on what is already recorded; parts are
merged in bounded groups as they accumulate, and the end of a sweep folds everything into
`<kind>.parquet` (`compact`). `read_results` is the one reader: compacted file plus parts, the
latest row per key, so a trial recorded again (resume, retry, reconcile) appears exactly once.
Every file appears by an atomic rename, and the compacted file records the newest part it holds,
so a reader running beside the writer never sees half a file nor an older row in place of a newer.
The columns are declared in `ran_core.results.schema`.

A damaged file (not readable Parquet, or without a key column, so its rows cannot be told apart)
never costs the other files their rows: readers skip it and name it (`DamagedFile`, once per read),
and a writer (merge, compaction) moves it to `parts/damaged/<kind>/` before it writes, so it is
reported once and never overwritten. `damaged_files` is the check a sweep makes before it starts;
`remove_stale_temp_files` clears what a killed writer left behind.
"""

import itertools
import os
import time
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ran_core.common.files import write_atomic
from ran_core.common.keys import PARTS_DIR, RESULT_FILES
from ran_core.results.schema import EPOCH_KEY, EPOCHS_SCHEMA, TRIAL_KEY, TRIALS_SCHEMA

KINDS = {"trials": (TRIALS_SCHEMA, TRIAL_KEY), "epochs": (EPOCHS_SCHEMA, EPOCH_KEY)}
MERGE_GROUP = 16  # this many parts of one level are merged into one part of the next level
_SEQUENCE = itertools.count()
_THROUGH = "ran_parts_through"  # compacted file metadata: stamp of the newest part folded in
DAMAGED_DIR = "damaged"  # parts/damaged/<kind>/: files a writer set aside as unreadable


class DamagedFile(ValueError):
    """A result file whose rows cannot be read: `path`, and `problem`, what is wrong with it."""

    def __init__(self, path, problem):
        self.path, self.problem, self.moved_to = Path(path), problem, None
        super().__init__(f"{str(path)!r} {problem}")


def compacted_path(folder, kind):
    """`<folder>/<kind>.parquet`: every row of a finished sweep (results/README.md)."""
    _kind(kind)
    return Path(folder) / RESULT_FILES[kind]


def parts_path(folder, kind):
    _kind(kind)
    return Path(folder) / PARTS_DIR / kind


def has_results(folder, kind):
    """Whether `folder` holds any `kind` rows (a compacted file or parts)."""
    return compacted_path(folder, kind).is_file() or any(_parts(folder, kind))


def append(folder, kind, rows, damaged=None):
    """Records `rows` (dicts; missing columns are null) as one new part file under parts/<kind>/.

    Costs O(len(rows)), plus, every MERGE_GROUP parts, one merge of that group into a part of the
    next level (each row is rewritten once per level, so log_16 of the number of flushes times).
    A damaged part met by a merge is set aside and reported (see `compact`).
    """
    if not rows:
        return None
    schema, key = _kind(kind)
    path = parts_path(folder, kind) / f"{_stamp()}.L0.parquet"
    write_table(_latest([_table(rows, schema)], key), path)
    _merge_full_levels(folder, kind, damaged)
    return path


def compact(folder, kind, rows=(), damaged=None):
    """Folds the compacted file, every part and `rows` (the newest) into `<kind>.parquet`, each key
    once, written once and atomically; then removes the parts it folded in. The file records the
    newest part it holds, so a reader skips parts a compaction has folded in but not yet removed.

    A damaged file among them is moved to parts/damaged/<kind>/ first (never overwritten) and
    reported: appended to `damaged` (a list of DamagedFile, `moved_to` set) or else warned about;
    every other row is kept. Only the folder's writer (the lock holder) may call this."""
    schema, key = _kind(kind)
    path = compacted_path(folder, kind)
    parts = _parts(folder, kind)
    found = []
    compacted, through = _unless_damaged(found, _read_compacted, path, schema, key) or (None, "")
    newer = [_unless_damaged(found, _read, p, schema, key) for p in parts if _stamp_of(p) > through]
    _set_aside(folder, kind, found, damaged)
    tables = ([compacted] if compacted is not None else []) + [t for t in newer if t is not None]
    if rows:
        tables.append(_table(rows, schema))
    if not tables:
        return 0
    table = _latest(tables, key)
    through = max([through] + [_stamp_of(p) for p in parts])
    write_table(table.replace_schema_metadata({_THROUGH: through}), path)
    for part in parts:
        part.unlink(missing_ok=True)
    return table.num_rows


def read_results(folder, kind, damaged=None):
    """Every `kind` row of a result folder once (the latest per key), as a pyarrow Table of the
    documented schema; empty if there are none. Safe beside a running sweep: parts are listed
    before the compacted file is read, and if a listed part is merged away meanwhile the folder
    is read again. A damaged file is skipped, the rows of every other file kept, and reported once:
    appended to `damaged` (a list of DamagedFile) if given, else as a warning naming it."""
    schema, key = _kind(kind)
    path = compacted_path(folder, kind)
    for _ in range(20):
        parts, found = _parts(folder, kind), []
        try:
            compacted, through = _unless_damaged(found, _read_compacted, path, schema, key) or (None, "")
            newer = [_unless_damaged(found, _read, p, schema, key) for p in parts if _stamp_of(p) > through]
        except FileNotFoundError:
            continue  # merged or compacted meanwhile: list again
        _report(found, damaged)
        tables = ([compacted] if compacted is not None else []) + [t for t in newer if t is not None]
        return _latest(tables, key) if tables else schema.empty_table()
    raise RuntimeError(f"{folder}: {kind} parts kept changing while being read (20 tries)")


def damaged_files(folder):
    """The DamagedFile of every result file of `folder` (compacted files and parts of both kinds)
    that cannot be read, in reading order; each file is read whole."""
    found = []
    for kind, (schema, key) in KINDS.items():
        for path in [compacted_path(folder, kind), *_parts(folder, kind)]:
            if path.is_file():
                _unless_damaged(found, _read, path, schema, key)
    return found


def file_columns(folder, kind):
    """{path: column names} of every readable `kind` file of `folder` (the compacted file, then the
    parts), from their footers; a damaged or vanished file is left out (readers report it)."""
    columns = {}
    for path in [compacted_path(folder, kind), *_parts(folder, kind)]:
        try:
            columns[path] = pq.read_schema(path).names
        except Exception:  # noqa: BLE001 - gone or unreadable: read_results names it
            continue
    return columns


def remove_stale_temp_files(folder):
    """Removes the temporary files that writes a killed process never finished left in the result
    folder and its parts (write_atomic's `.<name>.<random>.tmp`); returns their paths. Only for
    the folder's writer, holding its lock: another writer's unfinished temp file would go too."""
    folder, removed = Path(folder), []
    directories = [folder, *(p for p in (folder / PARTS_DIR).rglob("*") if p.is_dir())]
    for directory in directories:
        for path in directory.glob(".*.tmp") if directory.is_dir() else ():
            if path.is_file():
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def _kind(kind):
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}. Received: kind={kind!r}")
    return KINDS[kind]


def _stamp():
    """Names that sort in writing order: wall-clock ns, process, and a counter within the process."""
    return f"{time.time_ns():020d}-{os.getpid():08d}-{next(_SEQUENCE):08d}"


def _stamp_of(part):
    return part.name.split(".")[0]


def _read_compacted(path, schema, key):
    """The compacted file (None if there is none) and the stamp of the newest part it holds."""
    try:
        table = _read_file(path)
    except FileNotFoundError:
        return None, ""
    through = (table.schema.metadata or {}).get(_THROUGH.encode(), b"").decode()
    return _conform(_with_key(table, key, path), schema), through


def _parts(folder, kind):
    """Part files in writing order. A merged part takes the newest stamp of its group and sorts
    right after it (L1 > L0), so rows read later are always newer."""
    directory = parts_path(folder, kind)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.name.endswith(".parquet") and not p.name.startswith("."))


def _merge_full_levels(folder, kind, damaged=None):
    schema, key = _kind(kind)
    level = 0
    while True:
        group = [p for p in _parts(folder, kind) if p.name.endswith(f".L{level}.parquet")]
        if len(group) < MERGE_GROUP:
            return
        stamp, found = _stamp_of(group[-1]), []
        tables = [t for t in (_unless_damaged(found, _read, p, schema, key) for p in group) if t is not None]
        _set_aside(folder, kind, found, damaged)
        merged = _latest(tables, key) if tables else schema.empty_table()
        write_table(merged, parts_path(folder, kind) / f"{stamp}.L{level + 1}.parquet")
        for part in group:
            part.unlink(missing_ok=True)
        level += 1


def _table(rows, schema):
    return pa.Table.from_pylist([{name: row.get(name) for name in schema.names} for row in rows], schema=schema)


def _read(path, schema, key):
    """The rows of one result file in `schema`: DamagedFile if it is not readable Parquet or lacks
    a key column; FileNotFoundError if it is gone (merged or compacted meanwhile)."""
    return _conform(_with_key(_read_file(path), key, path), schema)


def _read_file(path):
    try:
        return read_parquet_file(path)
    except FileNotFoundError:
        raise
    except Exception as error:  # noqa: BLE001 - ArrowInvalid, OSError, ...: all mean unreadable
        lines = str(error).replace("Could not open Parquet input source '<Buffer>': ", "").strip().splitlines()
        reason = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
        raise DamagedFile(path, f"is not a readable Parquet file ({reason})") from None


def _with_key(table, key, path):
    """`table` if it has every key column; without one its rows could not be told apart (read as
    nulls they would collapse into one row per remaining key), so the file counts as damaged."""
    missing = [name for name in key if name not in table.column_names]
    if missing:
        raise DamagedFile(path, f"lacks the key column(s) {', '.join(missing)}, so its rows cannot be told apart")
    return table


def _unless_damaged(found, read, path, *args):
    """`read(path, *args)`, or None after appending its DamagedFile to `found`."""
    try:
        return read(path, *args)
    except DamagedFile as error:
        found.append(error)
        return None


def _report(found, damaged):
    """Hands the DamagedFile errors in `found` to the caller's list `damaged`, or warns once each."""
    if damaged is not None:
        damaged.extend(found)
        return
    for error in found:
        moved = f"; moved to {str(error.moved_to)!r}" if error.moved_to else ""
        warnings.warn(f"{error}; its rows are skipped{moved}", stacklevel=3)


def _set_aside(folder, kind, found, damaged):
    """Moves each damaged file in `found` to parts/damaged/<kind>/ (a free name there), so no write
    replaces it and no later read trips on it again; then reports them (`_report`)."""
    for error in found:
        directory = Path(folder) / PARTS_DIR / DAMAGED_DIR / kind
        directory.mkdir(parents=True, exist_ok=True)
        target, n = directory / error.path.name, 0
        while target.exists():
            n += 1
            target = directory / f"{error.path.stem}.{n}{error.path.suffix}"
        try:
            os.replace(error.path, target)
        except FileNotFoundError:
            continue
        error.moved_to = target
    _report(found, damaged)


def check_parquet(path):
    """Raises ValueError naming `path` and why unless it is a readable Parquet file."""
    try:
        _read_file(path)
    except (DamagedFile, FileNotFoundError) as error:
        problem = error if isinstance(error, DamagedFile) else f"{str(path)!r} is not a readable Parquet file (gone)"
        raise ValueError(f"{problem}; move it away or restore it, nothing was changed") from None


def read_parquet_file(path):
    """One Parquet file read through a single open: its bytes come from one inode, so a file
    replaced by an atomic rename meanwhile cannot mix its footer with another file's pages (as
    reading by path, which opens the file more than once, can)."""
    return pq.read_table(pa.BufferReader(Path(path).read_bytes()))


def _conform(table, schema):
    """`table` with the columns of `schema` in order, a column it lacks as nulls."""
    columns = [
        table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _latest(tables, key):
    """The concatenation of `tables` keeping, per key, the row that comes last."""
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    if table.num_rows == 0:
        return table
    order = pa.array(range(table.num_rows), pa.int64())
    last = (
        table.select(list(key))
        .append_column("_row", order)
        .group_by(list(key), use_threads=False)
        .aggregate([("_row", "max")])
    )
    rows = last.column("_row_max")
    return table.take(pc.take(rows, pc.sort_indices(rows)))  # in the order they were written


def write_table(table, path):
    """Writes a pyarrow Table as Parquet at `path`, atomically (write_atomic)."""
    buffer = pa.BufferOutputStream()
    pq.write_table(table, buffer)
    write_atomic(path, buffer.getvalue().to_pybytes())
