"""`--dry-run`: the plan and the price of a study, with no Ray started and nothing written."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Runs a study script's presets through run_study in a fresh interpreter and reports whether Ray
# (or a Keras backend) was imported.
PROBE = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("study", sys.argv[1])
study = importlib.util.module_from_spec(spec); spec.loader.exec_module(study)
from ran_core.sweep.runner import run_study
status = run_study(study.PRESETS, sys.argv[2:])
print("status", status, "ray imported:", "ray" in sys.modules, "keras imported:", "keras" in sys.modules)
"""


def dry_run(script, *flags):
    return subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT / "sweeps" / f"{script}.py"), "--dry-run", *flags],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_priced_dry_run_counts_trials_and_cost_and_starts_nothing(tmp_path):
    out = tmp_path / "out"
    run = dry_run("noise_robustness", "--img-per-s", "500", "--output", str(out), "--seeds", "3")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "30 trials (10 grid cells x 3 seeds), 10 epochs each" in run.stdout, run.stdout
    assert "recipe on digits 16x16: batch 32" in run.stdout
    # 30 trials x 13,470 images at 500 img/s = 0.2245 device-hours
    assert "13,470 training images per trial at 500 img/s (given)" in run.stdout
    assert "estimated cost: 0.22 device-hours" in run.stdout
    assert "status 0 ray imported: False keras imported: False" in run.stdout
    assert not out.exists(), "a dry run writes nothing"


def test_a_search_is_priced_as_an_upper_bound():
    run = dry_run("search", "--img-per-s", "1000", "--num-samples", "8")
    assert run.returncode == 0, run.stderr[-2000:]
    assert "a search of 8 TPE trials of up to 10 epochs, scheduler asha" in run.stdout, run.stdout
    assert "device-hours at most" in run.stdout


def test_img_per_s_needs_a_dry_run():
    run = subprocess.run(
        [sys.executable, str(ROOT / "sweeps" / "depth.py"), "--img-per-s", "100"], capture_output=True, text=True
    )
    assert run.returncode == 2 and "--img-per-s prices a --dry-run" in run.stderr, run.stderr


@pytest.mark.slow
def test_a_dry_run_measures_each_architecture_here(tmp_path):
    run = dry_run("depth", "--width", "0.0625", "--seeds", "1", "--output", str(tmp_path / "out"))
    assert run.returncode == 0, run.stderr[-2000:]
    measured = [line for line in run.stdout.splitlines() if "(measured here)" in line]
    assert len(measured) == 2 and {"Attention-56" in measured[0], "Attention-92" in measured[1]} == {True}, run.stdout
    speeds = [float(line.split(" at ")[-1].split(" img/s")[0].replace(",", "")) for line in measured]
    assert all(speed > 0 for speed in speeds)
    assert "ray imported: False" in run.stdout and not (tmp_path / "out").exists()
