"""Atomic file writes: readers (and a crash) see the old file or the new one, never half of one.

Every file the project writes (Parquet parts, reports, figures, checkpoints' state, experiment
records) goes through `write_atomic`, so they share one permission policy too.
"""

import os
import tempfile
from pathlib import Path

# Result files get one permission policy: 0666 less the process umask, as for any file the user
# creates (0644 under the usual umask 022), whichever library writes them (Parquet, JSON, SQLite).
FILE_MODE = 0o666


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path, data):
    """Writes text or bytes to `path` through a temporary file in the same folder and a rename, so
    readers (and a crash) see the old file or the new one, never half of one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE & ~_umask())  # mkstemp's 0600 would differ from every other result file
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
