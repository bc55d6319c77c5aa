"""Sweep engine end to end: real local Ray, real Optuna studies, real Parquet, tiny models on digits."""

import json
import os
import signal
import subprocess
import sys
import time

import optuna
import pyarrow.parquet as pq
import pytest

from ran_core.results import EPOCHS_SCHEMA, TRIALS_SCHEMA, read_results
from ran_core.sweep.space import Study

from sweep_runs import study_module, sweep

pytestmark = pytest.mark.timeout(900)
# Where the model does not matter (scheduling, pruning, resuming): the smallest width, synthetic data.
TINY_WORKLOAD = ("--width", "0.0625", "--dataset", "synthetic")


def read(tmp_path, name):
    return pq.read_table(tmp_path / "out" / f"{name}.parquet")


@pytest.mark.parametrize("script", ["noise_robustness", "depth", "attention_types", "learning_mode", "search"])
def test_every_study_script_declares_valid_presets(script):
    presets = study_module(script).PRESETS
    assert set(presets) == {"smoke", "paper"}
    assert all(isinstance(s, Study) and s.name == script for s in presets.values())
    assert presets["smoke"].fixed["dataset"] == "digits"


def test_the_sweep_driver_imports_no_keras_backend():
    """The driver validates, schedules and records; only trials train (and import Keras)."""
    modules = ", ".join(
        f"ran_core.{name}" for name in ("sweep.runner", "sweep.trainable", "sweep.recorder", "sweep.optuna_glue")
    )
    code = f"import sys, {modules}; print(sorted({{'keras', 'tensorflow', 'jax'}} & set(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "[]", run.stdout + run.stderr[-2000:]


@pytest.mark.slow
def test_noise_robustness_smoke_study_end_to_end(noise_smoke):
    run, root = noise_smoke
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = root / "noise_robustness"
    trials, epochs = pq.read_table(out / "trials.parquet"), pq.read_table(out / "epochs.parquet")
    assert trials.schema.equals(TRIALS_SCHEMA) and epochs.schema.equals(EPOCHS_SCHEMA)
    rows = trials.to_pylist()
    cells = sorted((r["model"], r["noise_ratio"]) for r in rows)
    assert cells == sorted((m, n) for m in ("attention56", "resnet56") for n in (0.0, 0.1, 0.3, 0.5, 0.7))
    budget = rows[0]["epochs"]
    for r in rows:
        assert r["status"] == "completed" and r["epochs_run"] == budget and r["error"] is None
        assert r["dataset"] == "digits" and r["params"] > 0 and r["num_classes"] == 10
        assert 0 <= r["final_test_error"] <= 1 and r["best_test_error"] <= r["final_test_error"]
        assert sum(r["test_confusion"]) == 450  # the digits test split
        assert (r["final_clean_train_accuracy"] is None) == (r["noise_ratio"] == 0)
        assert (r["attention_type"] is None) == (r["model"] == "resnet56")
        assert r["backend"] == "tensorflow" and r["keras_version"] and r["ray_version"] and r["backend_version"]
    keys = [(r["trial_id"], r["epoch"]) for r in epochs.to_pylist()]
    assert len(keys) == len(set(keys)) == len(rows) * budget
    assert "Ray dashboard" not in run.stdout  # --no-dashboard
    assert "10 trials done: 10 completed, 0 pruned, 0 errored" in run.stdout
    # The report is written at the end, and the console says where, with the command that makes it again.
    assert (out / "report" / "report.md").is_file() and (out / "report" / "noise_robustness.png").is_file()
    assert f"report and figures: {out / 'report'}/" in run.stdout and "python -m ran_core.analysis" in run.stdout
    assert "recipe on digits 16x16: batch 32" in run.stdout
    # Quiet: a few lines, one per trial end, no library chatter.
    lines = (run.stdout + run.stderr).splitlines()
    assert len(lines) < 40, "\n".join(lines)
    assert not [line for line in lines if " INFO " in line or "[I " in line or "tensorboard" in line.lower()], lines


@pytest.mark.slow
def test_asha_prunes_and_optuna_records_pruned_trials(tmp_path):
    run = sweep(
        "search",
        tmp_path,
        "--num-samples",
        "6",
        "--epochs",
        "3",
        *TINY_WORKLOAD,
        "--grace-period",
        "1",
        "--reduction-factor",
        "2",
        "--max-concurrent",
        "2",
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    rows = read(tmp_path, "trials").to_pylist()
    assert len(rows) == 6
    pruned = {r["trial_id"] for r in rows if r["status"] == "pruned"}
    completed = {r["trial_id"] for r in rows if r["status"] == "completed"}
    assert pruned and completed and len(pruned | completed) == 6
    assert all(r["epochs_run"] < 3 for r in rows if r["status"] == "pruned")
    # pruned at a rung, completed at the budget: both epochs wrote the checkpoint the matrix comes from
    assert all(r["test_confusion"] and sum(r["test_confusion"]) > 0 for r in rows)

    experiment = json.loads((tmp_path / "out" / "experiment.json").read_text())["name"]
    study = optuna.load_study(study_name=experiment, storage=f"sqlite:///{tmp_path / 'out' / 'optuna.db'}")
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.PRUNED) == len(pruned)
    assert states.count(optuna.trial.TrialState.COMPLETE) == len(completed)
    for t in study.trials:
        steps = sorted(t.intermediate_values)
        assert steps == list(range(1, len(steps) + 1)) and steps
        if t.state == optuna.trial.TrialState.COMPLETE:
            assert steps[-1] == 3
        else:
            assert steps[-1] < 3

    # The default ASHA paused every trial at each rung and resumed the ones it promoted from their
    # checkpoints: each epoch is recorded once, and a completed trial ends where it would have
    # had it run straight through (trained again here, in this process).
    from ran_core.data import load_dataset
    from ran_core.training.config import TrainConfig
    from ran_core.training.loop import train

    epochs = read(tmp_path, "epochs").to_pylist()
    keys = [(e["trial_id"], e["epoch"]) for e in epochs]
    assert len(keys) == len(set(keys)) == sum(r["epochs_run"] for r in rows)
    fields = set(TrainConfig.__dataclass_fields__)
    for row in (r for r in rows if r["status"] == "completed"):
        straight = train({k: v for k, v in row.items() if k in fields}, dataset=load_dataset("synthetic"), verbose=0)
        swept = sorted((e for e in epochs if e["trial_id"] == row["trial_id"]), key=lambda e: e["epoch"])
        for key in ("train_loss", "test_loss"):
            assert [e[key] for e in swept] == pytest.approx([m[key] for m in straight.history], rel=1e-4), key
        # Tune's log of the trial's last start: it began from the checkpoint of the last rung (epoch 2)
        (log,) = (tmp_path / "storage").glob(f"*/run_trial_{row['trial_id']}_*/result.json")
        last = json.loads(log.read_text().splitlines()[-1])
        assert (last["epoch"], last["iterations_since_restore"]) == (3, 1)


@pytest.mark.slow
def test_a_failing_trial_is_recorded_and_makes_the_sweep_exit_1_and_the_backend_reaches_trials(tmp_path):
    run = sweep(
        "depth",
        tmp_path,
        "--epochs",
        "1",
        "--seeds",
        "1",
        "--width",
        "0.125",
        "--max-failures",
        "0",
        "--backend",
        "jax",
        env={"RAN_FAIL_TRIAL_IF": "model=attention92", "KERAS_BACKEND": "tensorflow"},
    )
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    assert "1 trial(s) errored" in run.stdout and "injected failure" in run.stdout
    rows = {r["model"]: r for r in read(tmp_path, "trials").to_pylist()}
    assert rows["attention92"]["status"] == "errored" and "injected failure" in rows["attention92"]["error"]
    assert rows["attention56"]["status"] == "completed"
    assert rows["attention56"]["backend"] == "jax" and rows["attention56"]["backend_version"]


@pytest.mark.slow
def test_killed_driver_resumes_without_losing_or_duplicating_rows(tmp_path):
    # a checkpoint every epoch, so the resumed trials continue from one (the default interval of
    # 60 s would restart these short trials from scratch, which the Ctrl-C test covers)
    flags = ["--epochs", "4", "--seeds", "1", *TINY_WORKLOAD, "--max-concurrent", "2", "--checkpoint-every", "0"]
    driver = sweep("attention_types", tmp_path, *flags, wait=False)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and driver.poll() is None:
        if read_results(tmp_path / "out", "epochs").num_rows >= 3:  # read mid-run: parts, before compaction
            break
        time.sleep(1)
    assert driver.poll() is None, "the sweep finished before it could be interrupted"
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    rows_before = read_results(tmp_path / "out", "epochs").num_rows
    assert rows_before < 12

    run = sweep("attention_types", tmp_path, *flags, "--resume")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    trials = read(tmp_path, "trials").to_pylist()
    assert sorted(r["attention_type"] for r in trials) == ["channel", "mixed", "spatial"]
    assert all(r["status"] == "completed" and r["epochs_run"] == 4 for r in trials)
    assert len({r["experiment_id"] for r in trials}) == 1
    epochs = read(tmp_path, "epochs").to_pylist()
    keys = [(r["trial_id"], r["epoch"]) for r in epochs]
    assert len(keys) == len(set(keys)) == 12
