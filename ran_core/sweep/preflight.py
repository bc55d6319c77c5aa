"""Checks a sweep makes before Ray starts, so a bad place or a bad resource request costs seconds,
not a trained trial: the result folder, its existing files, the storage location, local resources.

Every check only reads (nothing is created or modified) and raises ValueError with one line that
names what was wrong and what was received; the sweep turns it into exit status 2.
"""

import glob
import os
import sqlite3
import threading
import uuid
from pathlib import Path

from ran_core.common.files import check_writable
from ran_core.common.keys import OPTUNA_DB, RESULT_FILES
from ran_core.results.store import check_parquet

CLOUD_CHECK_TIMEOUT_S = 30.0


def check_output(output):
    """`output` is a writable folder (or can be created as one), and the result files and Optuna
    database already in it are readable."""
    path = Path(output)
    check_writable(path, "--output")
    if not path.exists():
        return
    for name in RESULT_FILES.values():
        if (path / name).exists():
            check_parquet(path / name)
    if (path / OPTUNA_DB).exists():
        _check_sqlite(path / OPTUNA_DB)


def _check_sqlite(path):
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            result = connection.execute("PRAGMA quick_check").fetchone()
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        connection.close()
    except sqlite3.Error as error:
        raise ValueError(
            f"{str(path)!r} is not a readable Optuna database ({_first_line(error)}); "
            f"move it away or restore it, nothing was changed"
        ) from None
    if result != ("ok",) or "studies" not in tables:
        raise ValueError(
            f"{str(path)!r} is not a readable Optuna database (integrity check: {result[0]!r}, "
            f"tables: {sorted(tables)}); move it away or restore it, nothing was changed"
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
