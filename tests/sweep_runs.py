"""Running a study script as a user does, for the end-to-end sweep tests."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def study_module(name):
    """The module of `sweeps/<name>.py` (its PRESETS), imported from its file."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "sweeps" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sweep(name, tmp_path, *flags, env=None, wait=True):
    """Runs `sweeps/<name>.py` into tmp_path/out (storage tmp_path/storage): the finished process, or
    with wait=False the running one in its own process group (to signal it as a terminal would)."""
    command = [
        sys.executable,
        str(ROOT / "sweeps" / f"{name}.py"),
        "--no-dashboard",
        "--output",
        str(tmp_path / "out"),
        "--storage",
        str(tmp_path / "storage"),
        *flags,
    ]
    full_env = {**os.environ, **(env or {})}
    if not wait:
        return subprocess.Popen(
            command,
            cwd=tmp_path,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    return subprocess.run(command, cwd=tmp_path, env=full_env, capture_output=True, text=True, timeout=850)
