import os
import pathlib
import shutil
import subprocess
import sys

import pytest

TESTS = pathlib.Path(__file__).parent
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))
# The smoke study's flags in tests: width 1/8, two epochs and one seed (the model's accuracy is not what these
# tests check; cells, rows, statuses and files are). Not the smallest width, 1/16: its stage-1 maps have one
# channel, and a batch norm over a near-constant channel can blow up a step at learning rate 0.1 (Attention-56
# on digits: 1 seed in 20 diverged, 0 in 20 at 1/8), a real outcome these tests would read as a failure.
SMOKE_FLAGS = ("--width", "0.125", "--epochs", "2", "--seeds", "1")


@pytest.fixture(scope="session")
def noise_smoke(tmp_path_factory):
    """The embedded default (`python sweeps/noise_robustness.py`), run once per session as a user
    runs it, shrunk by its own flags (SMOKE_FLAGS) to the smallest width and a 2-epoch budget: every
    cell, trial and row is still there. Returns (completed process, results root holding noise_robustness/)."""
    tmp = tmp_path_factory.mktemp("noise_smoke")
    root = tmp / "results"
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "sweeps" / "noise_robustness.py"),
            "--no-dashboard",
            *SMOKE_FLAGS,
            "--output",
            str(root / "noise_robustness"),
            "--storage",
            str(tmp / "storage"),
        ],
        cwd=tmp,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=1200,
    )
    return run, root


@pytest.fixture(scope="session")
def fixture_results(tmp_path_factory):
    """results_fixture's default folders (attention_types missing, learning_mode without epochs.parquet),
    written once per session and shared: read it only; a test that writes into it takes `fixture_results_copy`."""
    from results_fixture import write_fixture_results

    return write_fixture_results(tmp_path_factory.mktemp("fixture_results"))


@pytest.fixture(scope="session")
def fixture_results_all(tmp_path_factory):
    """results_fixture's folders for every study, written once per session and shared: read it only."""
    from results_fixture import ALL_STUDIES, write_fixture_results

    return write_fixture_results(tmp_path_factory.mktemp("fixture_results_all"), studies=ALL_STUDIES)


@pytest.fixture
def fixture_results_copy(fixture_results, tmp_path):
    """A copy of `fixture_results` of the test's own, to write into (a report beside a study, say)."""
    return pathlib.Path(shutil.copytree(fixture_results, tmp_path / "fixture_results"))
