"""Files written safely: atomic writes, and a check that a path can be written before any work.

Every file the project writes (Parquet parts, reports, figures, checkpoints' state, experiment
records) goes through `write_atomic`, so readers (and a crash) see the old file or the new one,
never half of one, and all share one permission policy. `check_writable` is the one pre-flight
test of an output path, by a real write (os.access says yes to root even where writes fail).
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


def check_writable(path, flag, folder=True):
    """A ValueError naming `flag` unless `path` can be written as a folder (or, `folder` False, a
    file), creating it if missing; creates nothing itself beyond a probe file it removes."""
    path = Path(path)
    kind = "folder" if folder else "file"
    if path.exists() and path.is_dir() != folder:
        raise ValueError(f"{flag} must name a {kind}. Received: {flag} {str(path)!r}")
    existing = path if path.exists() else next(p for p in path.absolute().parents if p.exists())
    if not existing.is_dir() and existing != path:
        raise ValueError(f"{flag} {str(path)!r}: {str(existing)!r} is a file, not a folder")
    probe = existing if existing.is_dir() else existing.parent
    try:
        tempfile.TemporaryFile(dir=probe).close()
    except OSError as error:
        raise ValueError(f"{flag} {str(path)!r}: folder {str(probe)!r} is not writable ({error.strerror})") from None
