"""Results that survive damage (issue 25): a damaged result file is named, skipped by readers and
set aside by writers without costing any other row; a sweep refuses a damaged, locked or foreign
study folder in one line before Ray starts; every errored trial says why (Ray's reason included)
and the console counts the rows as written; the report checks the columns it reads; and no trial
is COMPLETE or PRUNED in Optuna without its row on disk. Real Parquet, SQLite, Optuna and Ray."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ran_core.results import append, compact, compacted_path, parts_path, read_results
from ran_core.results.store import damaged_files, remove_stale_temp_files

from results_fixture import write_fixture_results
from sweep_runs import study_module, sweep

TESTS = Path(__file__).parent
TINY = ["--width", "0.125", "--epochs", "2", "--seeds", "1", "--max-concurrent", "2"]  # 1/8: see conftest
pytestmark = pytest.mark.timeout(900)


def trial(trial_id, status="completed", error=0.2, study="depth"):
    return {
        "experiment_id": "exp",
        "study": study,
        "trial_id": trial_id,
        "status": status,
        "model": "attention56",
        "dataset": "digits",
        "noise_ratio": 0.0,
        "epochs_run": 2,
        "final_test_error": error,
    }


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # a disk or copy fault: the footer is gone


def three_parts_one_damaged(folder, study="depth"):
    for trial_id in ("a", "b", "c"):
        append(folder, "trials", [trial(trial_id, study=study)])
    parts = sorted(parts_path(folder, "trials").iterdir())
    truncate(parts[1])
    return parts[1]


def run_fresh(script, argv, before=""):
    """`run_study` of sweeps/<script>.py in a fresh interpreter (so "before Ray" can be checked as
    "ray was never imported"): (exit status, stderr, ray imported, seconds it took)."""
    code = "\n".join(
        [
            "import json, sys, time",
            f"sys.path.insert(0, {str(TESTS)!r})",
            "from sweep_runs import study_module",
            "from ran_core.sweep import preflight",
            "from ran_core.sweep.runner import run_study",
            before,
            "start = time.monotonic()",
            f"status = run_study(study_module({script!r}).PRESETS, {[str(a) for a in argv]!r})",
            "print(json.dumps({'status': status, 'ray': 'ray' in sys.modules, 's': time.monotonic() - start}))",
        ]
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    return outcome["status"], run.stderr, outcome["ray"], outcome["s"]


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


def snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# 1. A damaged part ----------------------------------------------------------------------------------
def test_a_damaged_part_is_named_and_skipped_by_readers_and_set_aside_by_compaction_keeping_every_other_row(
    tmp_path,
):
    from ran_core.results import load_results

    folder = tmp_path / "depth"
    bad = three_parts_one_damaged(folder)

    damaged = []
    assert sorted(read_results(folder, "trials", damaged)["trial_id"].to_pylist()) == ["a", "c"]
    assert [d.path for d in damaged] == [bad] and "is not a readable Parquet file (ArrowInvalid" in str(damaged[0])
    with pytest.warns(UserWarning, match=bad.name):  # without a list: one warning naming it
        assert read_results(folder, "trials").num_rows == 2
    with pytest.warns(UserWarning, match=bad.name):
        loaded = load_results(tmp_path)
    assert sorted(loaded.trials["trial_id"]) == ["a", "c"]
    assert [n for n in loaded.notes if bad.name in n] and "<Buffer>" not in " ".join(loaded.notes)

    damaged = []
    assert compact(folder, "trials", damaged=damaged) == 2  # the writer: set aside, never overwritten
    assert damaged[0].moved_to == folder / "parts" / "damaged" / "trials" / bad.name
    assert damaged[0].moved_to.read_bytes() and not bad.exists()
    assert sorted(pq.read_table(compacted_path(folder, "trials"))["trial_id"].to_pylist()) == ["a", "c"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reported once: later reads do not trip on it again
        assert read_results(folder, "trials").num_rows == 2 and not damaged_files(folder)


def test_a_damaged_compacted_file_costs_only_its_own_rows_and_is_set_aside_before_compaction_rewrites_it(tmp_path):
    compact(tmp_path, "trials", [trial("a"), trial("b")])
    append(tmp_path, "trials", [trial("c")])
    truncate(compacted_path(tmp_path, "trials"))
    damaged = []
    assert read_results(tmp_path, "trials", damaged)["trial_id"].to_pylist() == ["c"]
    assert damaged[0].path == compacted_path(tmp_path, "trials")
    damaged = []
    compact(tmp_path, "trials", [trial("d")], damaged=damaged)
    assert damaged[0].moved_to == tmp_path / "parts" / "damaged" / "trials" / "trials.parquet"
    assert sorted(read_results(tmp_path, "trials")["trial_id"].to_pylist()) == ["c", "d"]


def test_a_file_without_a_key_column_is_reported_damaged_instead_of_collapsing_its_rows_into_one(tmp_path):
    table = pa.Table.from_pylist([trial(t) for t in "abcdefghi"]).drop(["trial_id"])
    pq.write_table(table, compacted_path(tmp_path, "trials"))
    append(tmp_path, "trials", [trial("z")])
    damaged = []
    assert read_results(tmp_path, "trials", damaged)["trial_id"].to_pylist() == ["z"]
    assert "lacks the key column(s) trial_id" in str(damaged[0])


def test_a_sweep_refuses_a_folder_with_a_damaged_part_in_one_line_before_ray_and_changes_nothing(tmp_path):
    out = tmp_path / "out"
    bad = three_parts_one_damaged(out)
    before = snapshot(out)
    argv = ["--output", out, "--storage", tmp_path / "storage", *TINY]
    status, stderr, ray_imported, _ = run_fresh("attention_types", argv)
    assert status == 2 and not ray_imported, stderr[-3000:]
    assert error_lines(stderr) == [
        f"error: {str(bad)!r} is not a readable Parquet file (ArrowInvalid: Parquet magic bytes not found in "
        f"footer. Either the file is corrupted or this is not a parquet file.); move the damaged part(s) into "
        f"{str(out / 'parts' / 'damaged')!r} to go on without their rows, or restore them; nothing was changed"
    ]
    assert snapshot(out) == before and not (tmp_path / "storage").exists()


def test_stale_temp_files_of_a_killed_writer_are_removed_and_nothing_else(tmp_path):
    compact(tmp_path, "trials", [trial("a")])
    append(tmp_path, "epochs", [{"experiment_id": "exp", "trial_id": "a", "epoch": 1}])
    stale = [
        tmp_path / ".trials.parquet.k2j4h1.tmp",  # write_atomic's names, left by a kill -9 mid-write
        tmp_path / ".experiment.json.x81mq.tmp",
        parts_path(tmp_path, "epochs") / ".00000000000000000001-00000001-00000001.L1.parquet.a0b1c2.tmp",
    ]
    for path in stale:
        path.write_bytes(b"half a file")
    kept = sorted(p for p in tmp_path.rglob("*") if p.is_file() and p not in stale)
    assert sorted(remove_stale_temp_files(tmp_path)) == sorted(stale)
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == kept


# 2. A locked or foreign study file -----------------------------------------------------------------
def recorded_experiment(tmp_path, name="attention_types-smoke-old"):
    """A result folder as a sweep leaves it: its Optuna study and its experiment record."""
    from ran_core.sweep import experiments
    from ran_core.sweep.config import configure
    from ran_core.sweep.runner import _claim_optuna_study

    out, storage = tmp_path / "out", tmp_path / "storage"
    out.mkdir()
    _claim_optuna_study(out, name)
    config = configure(study_module("attention_types").PRESETS, ["--output", str(out), "--storage", str(storage)])
    experiments.record(out, name, str(storage), "attention_types", [], config.result_flags())
    return out, storage


def test_a_locked_optuna_db_is_refused_in_one_line_after_a_bounded_wait_before_ray_fresh_and_resumed(tmp_path):
    out, storage = recorded_experiment(tmp_path)
    holder = subprocess.Popen(  # another process in a write transaction on the study file
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
            "c.execute('BEGIN IMMEDIATE'); c.execute('CREATE TABLE held (x)'); print('locked', flush=True); "
            "time.sleep(600)",
            str(out / "optuna.db"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = snapshot(out)
        for flags in ([*TINY], ["--resume"]):
            status, stderr, ray_imported, seconds = run_fresh(
                "attention_types",
                ["--output", out, "--storage", storage, *flags],
                before="preflight.DB_LOCK_WAIT_S = 2.0",  # the bounded wait, shortened for the test
            )
            assert status == 2 and not ray_imported, stderr[-3000:]
            assert error_lines(stderr) == [
                f"error: {str(out / 'optuna.db')!r} is locked: another process has held a write transaction on "
                f"it for over 2 s; let it finish or stop it (another sweep, a notebook or an optuna command on "
                f"this file), then run again; nothing was changed"
            ]
            assert 2.0 <= seconds < 30, seconds
        assert snapshot(out) == before and not storage.exists()
    finally:
        holder.kill()
        holder.wait()


def test_resume_refuses_a_folder_without_the_experiments_study_before_ray(tmp_path):
    out, storage = recorded_experiment(tmp_path)
    with sqlite3.connect(out / "optuna.db") as connection:  # the file was replaced by another folder's
        connection.execute("UPDATE studies SET study_name = 'someone-else'")
    connection.close()
    status, stderr, ray_imported, _ = run_fresh("attention_types", ["--output", out, "--storage", storage, "--resume"])
    assert status == 2 and not ray_imported, stderr[-3000:]
    assert error_lines(stderr) == [
        f"error: --resume attention_types-smoke-old: {str(out / 'optuna.db')!r} holds no Optuna study of that "
        f"name (it holds 1 other(s)); restore the file this experiment wrote, or run without --resume for a new "
        f"experiment; nothing was changed"
    ]
    (out / "optuna.db").unlink()
    status, stderr, ray_imported, _ = run_fresh("attention_types", ["--output", out, "--storage", storage, "--resume"])
    assert status == 2 and not ray_imported and "the experiment's Optuna study, is missing" in stderr, stderr
    assert not (out / "optuna.db").exists() and not storage.exists()


# 3. Every errored trial says why --------------------------------------------------------------------
@pytest.mark.slow
def test_a_trial_rays_memory_monitor_kills_says_out_of_memory_in_its_row_the_console_and_the_report(tmp_path):
    """Ray's own memory monitor, with its kill threshold below what any node uses, kills every
    trial's worker as it starts: the real OutOfMemoryError path, on a real sweep."""
    run = sweep("attention_types", tmp_path, *TINY, env={"RAY_memory_usage_threshold": "0.0001"})
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    rows = pq.read_table(tmp_path / "out" / "trials.parquet").to_pylist()
    assert len(rows) == 3 and all(r["status"] == "errored" for r in rows)
    oom = "out of memory: Ray's memory monitor killed the trial's worker (node "
    assert all(r["error"].startswith(oom) for r in rows), [r["error"] for r in rows]
    assert all("kill threshold" in r["error"] for r in rows), [r["error"] for r in rows]
    assert "[attention_types] 3 trials done: 0 completed, 0 pruned, 3 errored" in run.stdout, run.stdout[-3000:]
    assert "3 trial(s) errored:" in run.stdout and run.stdout.count(": out of memory: Ray's memory monitor") == 3

    report = subprocess.run(
        [sys.executable, "-m", "ran_core.analysis", str(tmp_path / "out")], capture_output=True, text=True, timeout=600
    )
    assert report.returncode == 0, report.stderr[-3000:]
    assert (tmp_path / "out" / "report" / "report.md").read_text().count("out of memory: Ray's memory monitor") == 3


@pytest.mark.slow
def test_a_trial_whose_worker_is_killed_says_actor_died_and_the_summary_counts_every_errored_row(tmp_path):
    """A real Tuner whose trials end three ways: one's worker is killed (SIGKILL, as the kernel's
    OOM killer does), one raises before it reports, one completes."""
    import ray
    from ray import tune

    from ran_core.sweep.recorder import ResultRecorder
    from ran_core.sweep.runner import reconcile

    def trainable(config):
        if config["fate"] == "raises":
            raise RuntimeError("bad config")
        for epoch in (1, 2):
            tune.report({"epoch": epoch, "test_error": 0.5, "pid": os.getpid()})
            if config["fate"] == "killed":
                time.sleep(300)

    class KillWorker(tune.Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):
            if trial.config["fate"] == "killed":
                os.kill(result["pid"], signal.SIGKILL)

    out = tmp_path / "out"
    space = {"fate": tune.grid_search(["killed", "raises", "completes"]), "epochs": 2}
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        grid = tune.Tuner(
            trainable,
            param_space=space,
            run_config=tune.RunConfig(
                storage_path=str(tmp_path / "storage"),
                callbacks=[ResultRecorder(out, "exp", "study", flush_every_s=0.0), KillWorker()],
                failure_config=tune.FailureConfig(max_failures=0),
                verbose=0,
            ),
        ).fit()
        summary = reconcile(grid, ResultRecorder(out, "exp", "study"))
    finally:
        ray.shutdown()
    rows = pq.read_table(out / "trials.parquet").to_pylist()
    assert sorted(r["status"] for r in rows) == ["completed", "errored", "errored"]
    killed, raised = sorted((r["error"] for r in rows if r["status"] == "errored"), key=lambda e: "Runtime" in e)
    assert raised == "RuntimeError: bad config"
    assert killed.startswith("actor died: The actor is dead because its worker process has died."), killed
    assert summary["text"].startswith("[study] 3 trials done: 1 completed, 0 pruned, 2 errored"), summary["text"]
    assert "2 trial(s) errored:" in summary["text"] and "actor died: " in summary["text"]


# 4. The report checks what it reads -----------------------------------------------------------------
def rewrite(path, change):
    pq.write_table(change(pq.read_table(path)), path)


@pytest.mark.parametrize(
    ("change", "missing"),
    [
        (lambda t: t.drop(["final_test_error"]), "final_test_error"),
        (lambda t: t.drop(["trial_id"]), "trial_id"),
        (lambda t: t.drop(["status", "model"]), "status, model"),
    ],
    ids=["final_test_error", "trial_id", "status_and_model"],
)
def test_the_report_refuses_a_file_missing_required_columns_in_one_line_naming_them(tmp_path, change, missing):
    root = write_fixture_results(tmp_path / "results")
    trials = root / "depth" / "trials.parquet"
    rewrite(trials, change)
    run = subprocess.run([sys.executable, "-m", "ran_core.analysis", str(root)], capture_output=True, text=True)
    assert run.returncode == 2, run.stdout[-2000:] + run.stderr[-2000:]
    assert error_lines(run.stderr) == [
        f"error: {str(trials)!r} lacks the required column(s) {missing}; the report needs them (results/README.md "
        f"lists every column): restore the file the sweep wrote, or add the columns; nothing was written"
    ]
    assert not (root / "report").exists()


def test_the_report_ignores_unknown_columns_with_a_note_and_skips_a_damaged_part_keeping_every_other_row(tmp_path):
    from ran_core.analysis import load_results

    root = write_fixture_results(tmp_path / "results")
    rewrite(root / "depth" / "trials.parquet", lambda t: t.append_column("gpu_hours", pa.array([1.0] * t.num_rows)))
    with pytest.warns(UserWarning, match="gpu_hours"):
        depth_trials = load_results(root / "depth").trials
    bad = three_parts_one_damaged(root / "search", study="search")  # a running (or killed) sweep's parts
    run = subprocess.run([sys.executable, "-m", "ran_core.analysis", str(root)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    warned = [line for line in run.stderr.splitlines() if line.startswith("warning:")]
    assert warned == [
        "warning: trials.parquet has column(s) no schema declares (ignored): gpu_hours",
        f"warning: {str(bad)!r} is not a readable Parquet file (ArrowInvalid: Parquet magic bytes not found in "
        f"footer. Either the file is corrupted or this is not a parquet file.); its rows are skipped, the other "
        f"files' kept",
    ], run.stderr[-3000:]
    text = (root / "report" / "report.md").read_text()
    assert "depth: trials.parquet has column(s) no schema declares (ignored): gpu_hours" in text
    assert f"search: {str(bad)!r} is not a readable Parquet file" in text
    with pytest.warns(UserWarning) as caught:
        loaded = load_results(root)
    assert [str(w.message).split(" ")[1:4] for w in caught] == [["has", "column(s)", "no"], ["is", "not", "a"]]
    assert len(loaded.trials[loaded.trials["study"] == "depth"]) == len(depth_trials)
    assert {"a", "c"} <= set(loaded.trials["trial_id"]) and "b" not in set(loaded.trials["trial_id"])


# 5. No COMPLETE without a row -----------------------------------------------------------------------
def closed_in_optuna(out):
    """{Tune trial id: state} of the trials Optuna has closed (COMPLETE or PRUNED), read from the
    study file read-only while the sweep writes it."""
    connection = sqlite3.connect(f"file:{out / 'optuna.db'}?mode=ro", uri=True, timeout=30)
    try:
        found = connection.execute(
            "SELECT a.value_json, t.state FROM trials t JOIN trial_user_attributes a ON a.trial_id = t.trial_id "
            "WHERE a.key = 'tune_trial_id' AND t.state IN ('COMPLETE', 'PRUNED')"
        ).fetchall()
    finally:
        connection.close()
    return {json.loads(trial_id): state for trial_id, state in found}


@pytest.mark.slow
def test_a_driver_killed_right_after_optuna_closes_a_trial_leaves_that_trials_row_and_stale_temps_go_at_start(
    tmp_path,
):
    out = tmp_path / "out"
    stale = [out / ".trials.parquet.q1w2e3.tmp", parts_path(out, "trials") / ".0001-0001-0001.L0.parquet.r4t5y6.tmp"]
    for path in stale:  # what a driver killed mid-compaction leaves
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"half a file")
    driver = sweep("attention_types", tmp_path, *TINY, wait=False)
    closed = {}
    try:
        deadline = time.monotonic() + 800
        while not closed and driver.poll() is None and time.monotonic() < deadline:
            if (out / "experiment.json").exists():
                assert not any(path.exists() for path in stale), "stale temp files survived the start"
                closed = closed_in_optuna(out)
            time.sleep(0.1)
        assert closed, "no trial closed before the sweep ended"
        os.killpg(driver.pid, signal.SIGKILL)  # the driver dies, its Tune storage is lost with it
        driver.wait()
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    closed = closed_in_optuna(out)  # every trial Optuna closed up to the kill
    rows = {r["trial_id"]: r for r in read_results(out, "trials").to_pylist()}
    missing = sorted(set(closed) - set(rows))
    assert not missing, f"Optuna closed {missing} but no row was on disk"
    expected = {"COMPLETE": {"completed"}, "PRUNED": {"pruned", "diverged"}}
    assert all(rows[t]["status"] in expected[state] for t, state in closed.items()), (closed, rows)
    assert all(rows[t]["epochs_run"] == 2 and rows[t]["test_confusion"] for t in closed if closed[t] == "COMPLETE")


@pytest.mark.slow
def test_every_trial_optuna_closes_has_its_row_written_before_the_tell_also_when_asha_stops_a_waiting_trial(
    tmp_path, monkeypatch
):
    """The real sweep machinery (build_tuner: Optuna, the promoting ASHA, the recorder) on six tiny
    trials: ASHA stops trials waiting at a rung (Tune tells the searcher, then the callbacks) and
    lets the others complete. Parts are left unmerged, so each part's name holds the time it was
    written: the part holding a trial's row must be older than Optuna's completion time."""
    import dataclasses

    import optuna
    import ray

    from ran_core.results import store
    from ran_core.sweep.config import configure
    from ran_core.sweep.runner import _claim_optuna_study
    from ran_core.sweep.space import SMOKE, Study
    from ran_core.sweep.tuner import build_tuner, datasets_of

    monkeypatch.setattr(store, "MERGE_GROUP", 10**6)
    fixed = {k: v for k, v in SMOKE.items() if k != "learning_rate"}
    study = Study(
        "order",
        grid={"learning_rate": [0.01, 0.03, 0.1, 0.2, 0.3, 0.5]},
        fixed={**fixed, "model": "resnet56", "width": 0.0625, "dataset": "synthetic", "epochs": 3},
    )
    out = tmp_path / "out"
    out.mkdir()
    flags = ["--output", str(out), "--storage", str(tmp_path / "storage"), "--backend", "tensorflow"]
    asha = ["--scheduler", "asha", "--grace-period", "1", "--reduction-factor", "2", "--max-concurrent", "2"]
    config = dataclasses.replace(configure({"smoke": study}, [*flags, *asha]), experiment="order", gpus_per_trial=0.0)
    _claim_optuna_study(out, "order")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        build_tuner(config, datasets_of(config.study)).fit()
    finally:
        ray.shutdown()

    written = {}  # trial id -> when its row was first written (ns)
    for part in sorted(parts_path(out, "trials").iterdir()):
        for trial_id in pq.read_table(part)["trial_id"].to_pylist():
            written.setdefault(trial_id, int(part.name.split("-")[0]))
    trials = optuna.load_study(study_name="order", storage=f"sqlite:///{out / 'optuna.db'}").trials
    states = {t.state for t in trials}
    assert {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED} <= states, states
    for t in trials:
        trial_id = t.user_attrs["tune_trial_id"]
        assert trial_id in written, f"{trial_id} is {t.state.name} in Optuna without a row"
        told = int(t.datetime_complete.timestamp() * 1e9)
        late = (written[trial_id] - told) / 1e6
        assert written[trial_id] < told, f"{trial_id}: its row was written {late:.1f} ms after Optuna was told"
