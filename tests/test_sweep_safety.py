"""Sweeps that fail safe, on real local Ray, Optuna and Parquet with tiny models on digits: one
writer per result folder, honest interrupts (Ctrl-C, SIGTERM) and resume, diverged trials,
a local Ray that listens on loopback only, readable-results checks and one file-permission policy."""

import ipaddress
import json
import os
import signal
import subprocess
import sys
import time

import optuna
import psutil
import pyarrow.parquet as pq
import pytest

from ran_core.results import has_results, read_results
from ran_core.sweep import experiments
from ran_core.sweep.lock import OutputLocked, lock_output
from ran_core.sweep.runner import _claim_optuna_study

from sweep_runs import sweep

EPOCHS = 2
TINY = ["--width", "0.125", "--epochs", str(EPOCHS), "--seeds", "1", "--max-concurrent", "2"]  # 1/8: see conftest
pytestmark = pytest.mark.timeout(900)


def wait_for_epoch_rows(driver, out, rows=1):
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and driver.poll() is None:
        if has_results(out, "epochs") and read_results(out, "epochs").num_rows >= rows:  # parts, mid-run
            return
        time.sleep(1)
    raise AssertionError(f"no epoch rows before the sweep ended: {driver.communicate()[0][-3000:]}")


def optuna_states(out):
    name = json.loads((out / "experiment.json").read_text())["name"]
    study = optuna.load_study(study_name=name, storage=f"sqlite:///{out / 'optuna.db'}")
    return [t.state for t in study.trials], study


def listening_addresses(pid):
    """(process name, address) of every listening socket of `pid` and its descendants."""
    found = set()
    parent = psutil.Process(pid)
    for process in [parent, *parent.children(recursive=True)]:
        try:
            for connection in process.net_connections(kind="inet"):
                if connection.status == psutil.CONN_LISTEN:
                    found.add((process.name(), connection.laddr.ip))
        except psutil.Error:
            continue
    return found


def test_experiment_names_cannot_collide_and_a_fresh_run_never_joins_an_optuna_study(tmp_path):
    names = {experiments.new_name("depth", "smoke") for _ in range(200)}  # all within a second or two
    assert len(names) == 200
    name = names.pop()
    _claim_optuna_study(tmp_path, name)
    with pytest.raises(ValueError, match="already exists"):
        _claim_optuna_study(tmp_path, name)


def test_the_output_lock_names_its_holder_and_dies_with_it(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from ran_core.sweep.lock import lock_output; "
            f"lock = lock_output({str(tmp_path)!r}); print('locked', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(OutputLocked, match=f"pid {holder.pid} on host "):
            lock_output(tmp_path)
    finally:
        holder.kill()  # SIGKILL: no clean-up code runs, the kernel still drops the lock
        holder.wait()
    lock_output(tmp_path).close()


def test_report_exits_2_naming_an_unreadable_result_file(tmp_path):
    study = tmp_path / "depth"
    study.mkdir()
    (study / "trials.parquet").write_bytes(b"PAR1" + b"\0" * 32)
    run = subprocess.run(
        [sys.executable, "-m", "ran_core.analysis", str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert run.returncode == 2 and len(errors) == 1 and "trials.parquet' is not a readable Parquet" in errors[0]
    assert not (tmp_path / "report").exists()


@pytest.mark.slow
@pytest.mark.timeout(1800)  # three real sweeps; 12 minutes on a busy 2-core machine
def test_ctrl_c_records_interrupted_trials_and_resume_finishes_them(tmp_path):
    out = tmp_path / "out"
    driver = sweep("attention_types", tmp_path, *TINY, wait=False)
    try:
        while driver.poll() is None and not (out / "experiment.json").exists():
            time.sleep(0.5)
        # One writer per folder: a second sweep on the same --output is refused, naming the holder.
        second = sweep("attention_types", tmp_path, *TINY)
        assert second.returncode == 2, second.stdout[-2000:] + second.stderr[-2000:]
        assert f"another sweep is writing to '{out}' (pid {driver.pid} on host" in second.stderr
        wait_for_epoch_rows(driver, out)
        # A local Ray listens on the loopback interface only.
        listening = listening_addresses(driver.pid)
        assert listening and all(ipaddress.ip_address(ip.removeprefix("::ffff:")).is_loopback for _, ip in listening), (
            listening
        )
        os.killpg(driver.pid, signal.SIGINT)  # Ctrl-C in a terminal signals the whole process group
        stdout, _ = driver.communicate(timeout=300)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert driver.returncode == 130, stdout[-3000:]
    assert "trials done" in stdout and "interrupted by SIGINT" in stdout, stdout[-3000:]
    rows = pq.read_table(out / "trials.parquet").to_pylist()
    statuses = sorted(r["status"] for r in rows)
    assert "interrupted" in statuses and set(statuses) <= {"completed", "interrupted"}, statuses
    assert all(r["epochs_run"] == EPOCHS for r in rows if r["status"] == "completed")
    states, study = optuna_states(out)
    assert optuna.trial.TrialState.RUNNING not in states
    failed = {t.user_attrs["tune_trial_id"] for t in study.trials if t.state == optuna.trial.TrialState.FAIL}
    assert {r["trial_id"] for r in rows if r["status"] == "interrupted"} <= failed  # a trial never started has no row

    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir() if p.is_file()}
    umask = os.umask(0)
    os.umask(umask)
    assert set(modes.values()) == {0o666 & ~umask}, modes  # one permission policy for result files

    changed = sweep("attention_types", tmp_path, "--resume", "--width", "0.25")
    assert changed.returncode == 2 and "--width 0.25 (recorded: 0.125)" in changed.stderr, changed.stderr[-2000:]

    resumed = sweep("attention_types", tmp_path, "--resume", "--max-concurrent", "3")  # a where-and-how flag may change
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    rows = pq.read_table(out / "trials.parquet").to_pylist()
    assert sorted(r["attention_type"] for r in rows) == ["channel", "mixed", "spatial"]
    assert all(r["status"] == "completed" and r["epochs_run"] == EPOCHS for r in rows), rows
    keys = [(r["trial_id"], r["epoch"]) for r in pq.read_table(out / "epochs.parquet").to_pylist()]
    assert len(keys) == len(set(keys)) == 3 * EPOCHS
    states, study = optuna_states(out)
    assert optuna.trial.TrialState.RUNNING not in states
    assert states.count(optuna.trial.TrialState.COMPLETE) == 3
    assert {t.params["attention_type"] for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE} == {
        "channel",
        "mixed",
        "spatial",
    }


@pytest.mark.slow
def test_sigterm_stops_the_sweep_with_a_summary_and_status_143(tmp_path):
    out = tmp_path / "out"
    driver = sweep("attention_types", tmp_path, *TINY, wait=False)
    try:
        wait_for_epoch_rows(driver, out)
        driver.send_signal(signal.SIGTERM)  # what a scheduler or `kill` sends to the driver
        stdout, _ = driver.communicate(timeout=300)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert driver.returncode == 143, stdout[-3000:]
    assert "trials done" in stdout and "interrupted by SIGTERM" in stdout and "Aborted" not in stdout
    statuses = [r["status"] for r in pq.read_table(out / "trials.parquet").to_pylist()]
    assert "interrupted" in statuses and "pruned" not in statuses
    states, _ = optuna_states(out)
    assert optuna.trial.TrialState.RUNNING not in states and optuna.trial.TrialState.FAIL in states


@pytest.mark.slow
def test_a_diverging_trial_stops_and_is_recorded_diverged(tmp_path):
    """A real divergence: learning rate 1000 (the top of its declared range) on a 1/16-width
    ResNet-56, whose loss is NaN within the first epoch; the sweep's real path: Ray, Optuna,
    Parquet, report."""
    import dataclasses

    import ray

    from ran_core.sweep.config import configure
    from ran_core.sweep.optuna_glue import STATUS_ATTR
    from ran_core.sweep.recorder import ResultRecorder
    from ran_core.sweep.runner import reconcile
    from ran_core.sweep.space import SMOKE, Study
    from ran_core.sweep.tuner import build_tuner, datasets_of

    fixed = {k: v for k, v in SMOKE.items() if k != "learning_rate"}
    study = Study(
        "diverge",
        grid={"learning_rate": [0.1, 1e3]},
        fixed={**fixed, "model": "resnet56", "width": 0.0625, "epochs": 3},
    )
    out = tmp_path / "out"
    out.mkdir()
    flags = ["--output", str(out), "--storage", str(tmp_path / "storage"), "--max-failures", "0"]
    config = configure({"smoke": study}, [*flags, "--max-concurrent", "2", "--backend", "tensorflow"])
    config = dataclasses.replace(config, experiment="diverge-test", gpus_per_trial=0.0)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        _claim_optuna_study(out, "diverge-test")
        grid = build_tuner(config, datasets_of(study)).fit()
        summary = reconcile(grid, ResultRecorder(out, "diverge-test", "diverge"))
    finally:
        ray.shutdown()
    rows = {r["learning_rate"]: r for r in pq.read_table(out / "trials.parquet").to_pylist()}
    assert rows[1e3]["status"] == "diverged" and rows[1e3]["epochs_run"] < 3, rows[1e3]
    assert rows[0.1]["status"] == "completed" and rows[0.1]["epochs_run"] == 3
    assert rows[1e3]["test_confusion"] and rows[0.1]["test_confusion"], "each ended on a checkpointed epoch"
    assert "1 diverged" in summary["text"] and not summary["errored"]
    study_ = optuna.load_study(study_name="diverge-test", storage=f"sqlite:///{out / 'optuna.db'}")
    diverged = [t for t in study_.trials if t.params.get("learning_rate") == 1e3]
    assert diverged[0].state == optuna.trial.TrialState.PRUNED and diverged[0].user_attrs[STATUS_ATTR] == "diverged"

    run = subprocess.run(
        [sys.executable, "-m", "ran_core.analysis", str(out)], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = (out / "report" / "report.md").read_text()
    assert "## Diverged trials (1)" in report and rows[1e3]["trial_id"] in report


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder, so the sweep would work")
def test_a_read_only_output_folder_is_refused_before_ray(tmp_path):
    from ran_core.sweep.preflight import check_output

    locked = tmp_path / "read_only"
    locked.mkdir(mode=0o555)
    with pytest.raises(ValueError, match="is not writable"):
        check_output(locked / "out")
    with pytest.raises(ValueError, match="is not writable"):
        check_output(locked)
