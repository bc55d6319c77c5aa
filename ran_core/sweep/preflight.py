"""Checks a sweep makes before Ray starts, so a bad place or a bad resource request costs seconds,
not a trained trial: the result folder, its existing files, the storage location, local resources.

Every check only reads (nothing is created or modified; the Optuna database's write lock is taken
and released unused) and raises ValueError with one line that names what was wrong, what was
received and what the user can do; the sweep turns it into exit status 2.
"""

import glob
import os
import sqlite3
import threading
import uuid
from pathlib import Path

from ran_core.common.files import check_writable
from ran_core.common.keys import OPTUNA_DB, PARTS_DIR
from ran_core.results.store import DAMAGED_DIR, damaged_files

CLOUD_CHECK_TIMEOUT_S = 30.0
# How long the check waits for another process's write transaction on optuna.db to end. The
# sweep's own Optuna commits take milliseconds; past SQLite's default wait (5 s) a locked file
# would fail the sweep's first Optuna write with a traceback instead.
DB_LOCK_WAIT_S = 10.0


def check_output(output, resume=None):
    """`output` is a writable folder (or can be created as one); every result file in it (compacted
    files and parts) is readable; its Optuna database is readable and not locked by another process
    (waiting up to DB_LOCK_WAIT_S); and with `resume` (an experiment's name) it holds that study."""
    path = Path(output)
    check_writable(path, "--output")
    if not path.exists():
        return
    damaged = damaged_files(path)
    if damaged and damaged[0].path.parent == path:  # a compacted file: it holds every folded-in row
        raise ValueError(f"{damaged[0]}; move it away or restore it, nothing was changed")
    if damaged:
        more = f" (and {len(damaged) - 1} more damaged part(s))" if len(damaged) > 1 else ""
        raise ValueError(
            f"{damaged[0]}{more}; move the damaged part(s) into {str(path / PARTS_DIR / DAMAGED_DIR)!r} "
            f"to go on without their rows, or restore them; nothing was changed"
        )
    if (path / OPTUNA_DB).exists():
        _check_sqlite(path / OPTUNA_DB, resume)
    elif resume:
        raise ValueError(
            f"--resume {resume}: {str(path / OPTUNA_DB)!r}, the experiment's Optuna study, is missing; "
            f"restore it, or run without --resume for a new experiment; nothing was changed"
        )


def _check_sqlite(path, resume=None):
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=DB_LOCK_WAIT_S)
        try:
            result = connection.execute("PRAGMA quick_check").fetchone()
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            studies = (
                [row[0] for row in connection.execute("SELECT study_name FROM studies")] if "studies" in tables else []
            )
        finally:
            connection.close()
    except sqlite3.Error as error:
        if _locked(error):
            raise ValueError(_locked_message(path)) from None
        raise ValueError(
            f"{str(path)!r} is not a readable Optuna database ({_first_line(error)}); "
            f"move it away or restore it, nothing was changed"
        ) from None
    if result != ("ok",) or "studies" not in tables:
        raise ValueError(
            f"{str(path)!r} is not a readable Optuna database (integrity check: {result[0]!r}, "
            f"tables: {sorted(tables)}); move it away or restore it, nothing was changed"
        )
    if resume and resume not in studies:
        raise ValueError(
            f"--resume {resume}: {str(path)!r} holds no Optuna study of that name (it holds {len(studies)} other(s)); "
            f"restore the file this experiment wrote, or run without --resume for a new experiment; "
            f"nothing was changed"
        )
    _check_not_locked(path)


def _check_not_locked(path):
    """Waits up to DB_LOCK_WAIT_S for the database's write lock, then releases it unused (BEGIN
    IMMEDIATE, ROLLBACK: nothing is written), so a file another process holds in a write
    transaction is refused here rather than by the sweep's first Optuna write."""
    connection = None
    try:
        connection = sqlite3.connect(path, timeout=DB_LOCK_WAIT_S, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
    except sqlite3.Error as error:
        if _locked(error):
            raise ValueError(_locked_message(path)) from None
        raise ValueError(
            f"{str(path)!r} cannot be written ({_first_line(error)}); check its permissions and the free "
            f"space; nothing was changed"
        ) from None
    finally:
        if connection is not None:
            connection.close()


def _locked(error):
    return "locked" in str(error) or "busy" in str(error)


def _locked_message(path):
    return (
        f"{str(path)!r} is locked: another process has held a write transaction on it for over "
        f"{DB_LOCK_WAIT_S:g} s; let it finish or stop it (another sweep, a notebook or an optuna command "
        f"on this file), then run again; nothing was changed"
    )


def supported_schemes():
    """URI schemes the installed pyarrow can open (Ray storage goes through pyarrow.fs)."""
    import pyarrow.fs as pafs

    schemes = {"file", "local", "mock"}
    for scheme, name in (
        ("s3", "S3FileSystem"),
        ("gs", "GcsFileSystem"),
        ("gcs", "GcsFileSystem"),
        ("hdfs", "HadoopFileSystem"),
        ("viewfs", "HadoopFileSystem"),
        ("abfs", "AzureFileSystem"),
        ("abfss", "AzureFileSystem"),
    ):
        if hasattr(pafs, name):
            schemes.add(scheme)
    return schemes


def check_storage(storage):
    """A local storage folder can be created and written; a URI has a scheme pyarrow supports and,
    for a remote one, a small probe file can be written and deleted (credentials, bucket)."""
    scheme, _, rest = storage.partition("://")
    if not rest:
        check_writable(Path(storage), "--storage")
        return
    if scheme not in supported_schemes():
        raise ValueError(
            f"--storage {storage!r}: scheme {scheme!r} is not supported by the installed pyarrow "
            f"filesystems (supported: {', '.join(sorted(supported_schemes()))})"
        )
    if scheme in ("file", "local"):
        check_writable(Path("/" + rest.lstrip("/")), "--storage")
        return
    outcome = {}
    probe = threading.Thread(target=_write_probe, args=(storage, outcome), daemon=True)
    probe.start()
    probe.join(CLOUD_CHECK_TIMEOUT_S)
    if probe.is_alive():
        raise ValueError(
            f"--storage {storage!r}: no answer from the store within {CLOUD_CHECK_TIMEOUT_S:g} s "
            f"(network, region or endpoint?)"
        )
    if "error" in outcome:
        raise ValueError(
            f"--storage {storage!r} cannot be written ({outcome['error']}); "
            f"check the bucket and the credentials (e.g. AWS_PROFILE, GOOGLE_APPLICATION_CREDENTIALS)"
        )


def _write_probe(uri, outcome):
    """Writes and deletes `<uri>/.ran_write_probe_<random>`; records the first error line."""
    try:
        import pyarrow.fs as pafs

        filesystem, path = pafs.FileSystem.from_uri(uri)
        probe = f"{path.rstrip('/')}/.ran_write_probe_{uuid.uuid4().hex}"
        with filesystem.open_output_stream(probe) as stream:
            stream.write(b"ok")
        filesystem.delete_file(probe)
    except Exception as error:  # noqa: BLE001 - any failure means the sweep could not store there
        outcome["error"] = _first_line(error)


def gpu_count():
    """GPUs this machine offers, without importing TensorFlow/JAX or starting Ray: the NVIDIA
    driver's device list, narrowed by CUDA_VISIBLE_DEVICES as Ray does."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    found = len(glob.glob("/proc/driver/nvidia/gpus/*"))
    if visible is not None:
        listed = [d for d in visible.split(",") if d.strip() and d.strip() != "-1"]
        return min(len(listed), found) if found else 0
    return found


def check_local_resources(cpus_per_trial, gpus_per_trial):
    """A local run (no --address) cannot use more of a resource than this machine has."""
    cpus, gpus = os.cpu_count() or 1, gpu_count()
    if cpus_per_trial > cpus:
        raise ValueError(
            f"--cpus-per-trial {cpus_per_trial:g} but this machine has {cpus} CPU(s); "
            f"use --address to run on a cluster. Received: --cpus-per-trial {cpus_per_trial:g}"
        )
    if gpus_per_trial and gpus_per_trial > gpus:
        raise ValueError(
            f"--gpus-per-trial {gpus_per_trial:g} but this machine has {gpus} GPU(s); "
            f"use --address to run on a cluster. Received: --gpus-per-trial {gpus_per_trial:g}"
        )
    return gpus


def _first_line(error):
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
