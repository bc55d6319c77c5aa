"""The recorder through its Tune callback hooks: rows land once per key across retries, a driver
restart and the end-of-sweep compaction; a real Tuner wires it up the same way. No training."""

import pyarrow.parquet as pq
import pytest

from ran_core.results import compacted_path, parts_path, read_results
from ran_core.sweep.recorder import ResultRecorder

BUDGET = 3


class FakeTrial:
    """The attributes of a Tune Trial the recorder reads."""

    def __init__(self, trial_id, lr, error=None):
        self.trial_id, self.config, self.checkpoint, self.status = (
            trial_id,
            {"learning_rate": lr, "epochs": BUDGET, "dataset": "digits"},
            None,
            "RUNNING",
        )
        self.last_result, self._error = {}, error

    def get_error(self):
        return self._error


def report(recorder, trial, epoch, error):
    trial.last_result = {"epoch": epoch, "test_error": error, "test_accuracy": 1 - error, "time_total_s": epoch}
    recorder.on_trial_result(0, [], trial, dict(trial.last_result))


def rows(folder, kind, *key):
    return {r[key[0]] if len(key) == 1 else tuple(r[k] for k in key): r for r in read_results(folder, kind).to_pylist()}


def test_hooks_record_each_trial_and_epoch_once_across_a_retry_and_a_driver_restart(tmp_path):
    recorder = ResultRecorder(tmp_path, "exp", "study", flush_every_s=0.0)
    done, pruned, failed = (
        FakeTrial("done", 0.1),
        FakeTrial("pruned", 0.3),
        FakeTrial("failed", 1.0, "x\nValueError: boom"),
    )
    for epoch, error in ((1, 0.5), (2, 0.4)):
        report(recorder, done, epoch, error)
    report(recorder, done, 2, 0.3)  # a retry from the epoch-1 checkpoint reports epoch 2 again
    report(recorder, done, 3, 0.35)
    recorder.on_trial_complete(0, [], done)
    report(recorder, pruned, 1, 0.9)
    recorder.on_trial_complete(0, [], pruned)
    report(recorder, failed, 1, 0.8)
    recorder.on_trial_error(0, [], failed)
    restarted = FakeTrial("restarted", 0.2)
    report(recorder, restarted, 1, 0.2)
    report(recorder, restarted, 2, 0.6)
    recorder.flush()

    again = ResultRecorder(tmp_path, "exp", "study", flush_every_s=0.0)  # the driver died; Tune resumes
    report(again, restarted, 3, 0.7)
    again.on_trial_complete(0, [], restarted)
    again.on_experiment_end([])

    trials = rows(tmp_path, "trials", "trial_id")
    assert {t: r["status"] for t, r in trials.items()} == {
        "done": "completed",
        "pruned": "pruned",
        "failed": "errored",
        "restarted": "completed",
    }
    assert trials["done"]["best_test_error"] == 0.3 and trials["done"]["final_test_error"] == 0.35
    assert trials["failed"]["error"] == "ValueError: boom"
    assert trials["restarted"]["best_test_error"] == 0.2, "epochs recorded before the restart count"
    assert trials["restarted"]["epochs_run"] == 3 and trials["done"]["learning_rate"] == 0.1
    epochs = rows(tmp_path, "epochs", "trial_id", "epoch")
    assert len(epochs) == 3 + 1 + 1 + 3 and epochs[("done", 2)]["test_error"] == 0.3

    again.finish()
    assert not list(parts_path(tmp_path, "trials").iterdir()) and not list(parts_path(tmp_path, "epochs").iterdir())
    compacted = pq.read_table(compacted_path(tmp_path, "trials")).to_pylist()
    assert sorted(r["trial_id"] for r in compacted) == ["done", "failed", "pruned", "restarted"]
    assert pq.read_table(compacted_path(tmp_path, "epochs")).num_rows == 8


def test_rows_wait_for_the_flush_interval_then_land_together(tmp_path):
    recorder = ResultRecorder(tmp_path, "exp", "study", flush_every_s=3600.0)
    trial = FakeTrial("t", 0.1)
    for epoch in range(1, BUDGET + 1):
        report(recorder, trial, epoch, 0.5)
    assert read_results(tmp_path, "epochs").num_rows == 0, "nothing written per epoch"
    recorder.on_trial_complete(0, [], trial)  # a trial's end is written at once, epochs and row together
    assert read_results(tmp_path, "epochs").num_rows == BUDGET and read_results(tmp_path, "trials").num_rows == 1
    recorder.on_experiment_end([])
    assert len(list(parts_path(tmp_path, "epochs").iterdir())) == 1


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_real_tuner_and_reconcile_leave_complete_compacted_files(tmp_path):
    import ray
    from ray import tune

    from ran_core.sweep.runner import reconcile

    def noop(config):
        for epoch in range(1, config["epochs"] + 1):
            tune.report({"epoch": epoch, "test_error": config["learning_rate"] / epoch})

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        tuner = tune.Tuner(
            noop,
            param_space={"learning_rate": tune.grid_search([0.1, 0.2, 0.3]), "epochs": BUDGET},
            tune_config=tune.TuneConfig(reuse_actors=True),
            run_config=tune.RunConfig(
                name="exp",
                storage_path=str(tmp_path / "storage"),
                verbose=0,
                callbacks=[ResultRecorder(tmp_path / "out", "exp", "study")],
            ),
        )
        grid = tuner.fit()
    finally:
        ray.shutdown()
    summary = reconcile(grid, ResultRecorder(tmp_path / "out", "exp", "study"))
    assert "3 trials done: 3 completed" in summary["text"] and not summary["errored"]
    assert not list(parts_path(tmp_path / "out", "epochs").iterdir())
    trials = pq.read_table(compacted_path(tmp_path / "out", "trials")).to_pylist()
    assert sorted(r["learning_rate"] for r in trials) == [0.1, 0.2, 0.3]
    assert all(r["status"] == "completed" and r["epochs_run"] == BUDGET for r in trials)
    epochs = pq.read_table(compacted_path(tmp_path / "out", "epochs")).to_pylist()
    assert len({(r["trial_id"], r["epoch"]) for r in epochs}) == len(epochs) == 3 * BUDGET
