import os
import pathlib
import subprocess
import sys

import pytest

TESTS = pathlib.Path(__file__).parent
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))


@pytest.fixture(scope="session")
def noise_smoke(tmp_path_factory):
    """The embedded default (`python sweeps/noise_robustness.py`), run once per session as a user
    runs it; returns (completed process, results root holding noise_robustness/)."""
    tmp = tmp_path_factory.mktemp("noise_smoke")
    root = tmp / "results"
    run = subprocess.run([sys.executable, str(ROOT / "sweeps" / "noise_robustness.py"), "--no-dashboard",
                          "--output", str(root / "noise_robustness"), "--storage", str(tmp / "storage")],
                         cwd=tmp, env=dict(os.environ), capture_output=True, text=True, timeout=1200)
    return run, root
