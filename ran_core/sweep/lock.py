"""One writer per result folder: an OS lock (fcntl.flock) on `<output>/.sweep.lock`.

The kernel releases the lock when the holding process ends, however it ends (even SIGKILL), so a
lock can never go stale; the file itself only says who holds it, for the error message.
"""

import datetime
import fcntl
import os
import socket
from pathlib import Path

LOCK_FILE = ".sweep.lock"


class OutputLocked(ValueError):
    """Another live sweep writes to this result folder."""


def lock_output(output):
    """Takes the folder's lock for the life of this process; returns the open lock file (keep it).

    Raises OutputLocked, naming the holder's pid and host, if another process holds it.
    """
    path = Path(output) / LOCK_FILE
    handle = open(path, "a+")  # noqa: SIM115 - held open (and locked) until the process ends
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "an unknown process"
        handle.close()
        raise OutputLocked(
            f"another sweep is writing to {str(output)!r} ({holder}); wait for it to end, or pick another --output"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(
        f"pid {os.getpid()} on host {socket.gethostname()}, since "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M:%S} UTC\n"
    )
    handle.flush()
    return handle
