"""PruningOptunaSearch across a driver restart, on a real SQLite study: the searcher's pickled
snapshot can be older than the study's records, and resuming must neither crash on a trial the
study already closed nor lose or rewrite what it recorded."""

import warnings

import optuna
import pytest
from optuna.trial import TrialState

from ran_core.sweep.optuna_glue import STATUS_ATTR, PruningOptunaSearch, fail_unfinished
from ran_core.sweep.tuner import optuna_storage

EPOCHS = 4


def _searcher(storage):
    return PruningOptunaSearch(
        space={"lr": optuna.distributions.FloatDistribution(0.01, 0.1)},
        metric="test_error",
        mode="min",
        sampler=optuna.samplers.RandomSampler(seed=0),
        storage=storage,
        study_name="study",
        max_t=EPOCHS,
        time_attr="epoch",
    )


def _result(epoch):
    return {"test_error": 1.0 - 0.1 * epoch, "training_iteration": epoch, "epoch": epoch, "config": {"epochs": EPOCHS}}


def _run_epochs(searcher, trial_id, epochs):
    for epoch in epochs:
        searcher.on_trial_result(trial_id, _result(epoch))


@pytest.mark.parametrize(
    ("last_epoch", "closed_as"), [(EPOCHS, TrialState.COMPLETE), (2, TrialState.PRUNED)], ids=["complete", "pruned"]
)
def test_a_trial_the_study_closed_after_the_snapshot_is_rerun_without_crashing_or_rewriting(
    tmp_path, last_epoch, closed_as
):
    storage = optuna_storage(tmp_path / "optuna.db")
    searcher = _searcher(storage)
    searcher.suggest("t1")
    _run_epochs(searcher, "t1", [1])
    searcher.save(str(tmp_path / "searcher.pkl"))  # Tune's last experiment snapshot
    _run_epochs(searcher, "t1", range(2, last_epoch))
    searcher.on_trial_complete("t1", result=_result(last_epoch))  # withheld stopping result
    study = optuna.load_study(study_name="study", storage=storage)
    (recorded,) = study.trials
    assert recorded.state == closed_as
    assert sorted(recorded.intermediate_values) == list(range(1, last_epoch + 1))

    # the driver dies here; the resumed one restores the older snapshot and Tune reruns t1
    resumed = _searcher(optuna_storage(tmp_path / "optuna.db"))
    resumed.restore(str(tmp_path / "searcher.pkl"))
    _run_epochs(resumed, "t1", range(2, last_epoch + 1))
    resumed.on_trial_complete("t1", result=_result(last_epoch))

    (after,) = optuna.load_study(study_name="study", storage=storage).trials
    assert after.state == closed_as
    assert after.intermediate_values == recorded.intermediate_values
    assert after.values == recorded.values


def test_an_interrupted_trial_resumes_as_a_running_copy_that_keeps_its_epochs(tmp_path):
    storage = optuna_storage(tmp_path / "optuna.db")
    searcher = _searcher(storage)
    searcher.suggest("t1")
    _run_epochs(searcher, "t1", [1, 2])
    searcher.save(str(tmp_path / "searcher.pkl"))
    assert fail_unfinished(storage, "study") == {"t1"}

    resumed = _searcher(optuna_storage(tmp_path / "optuna.db"))
    resumed.restore(str(tmp_path / "searcher.pkl"))
    _run_epochs(resumed, "t1", [3])
    resumed.on_trial_complete("t1", result=_result(EPOCHS))

    failed, copy = optuna.load_study(study_name="study", storage=storage).trials
    assert (failed.state, failed.user_attrs[STATUS_ATTR]) == (TrialState.FAIL, "interrupted")
    assert copy.state == TrialState.COMPLETE and STATUS_ATTR not in copy.user_attrs
    assert copy.params == failed.params
    assert sorted(copy.intermediate_values) == [1, 2, 3, 4]
    assert copy.value == pytest.approx(_result(EPOCHS)["test_error"])


def test_epochs_trained_again_after_a_restore_keep_their_first_value_without_a_warning(tmp_path):
    """Checkpoints are sparse (trainable.CheckpointPolicy): a resumed trial can train epochs again
    from an earlier checkpoint. Optuna keeps what it was told first, and is not asked twice."""
    storage = optuna_storage(tmp_path / "optuna.db")
    searcher = _searcher(storage)
    searcher.suggest("t1")
    _run_epochs(searcher, "t1", [1])
    searcher.save(str(tmp_path / "searcher.pkl"))  # the snapshot is older than epochs 2 and 3
    _run_epochs(searcher, "t1", [2, 3])
    fail_unfinished(storage, "study")

    resumed = _searcher(optuna_storage(tmp_path / "optuna.db"))
    resumed.restore(str(tmp_path / "searcher.pkl"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for epoch in (2, 3):  # from the epoch-1 checkpoint, trained again: slightly different values
            resumed.on_trial_result("t1", {**_result(epoch), "test_error": _result(epoch)["test_error"] + 0.01})
        resumed.on_trial_result("t1", _result(EPOCHS))
    assert not [w for w in caught if "already reported" in str(w.message)], [str(w.message) for w in caught]
    resumed.on_trial_complete("t1", result=_result(EPOCHS))
    _, copy = optuna.load_study(study_name="study", storage=storage).trials
    assert copy.state == TrialState.COMPLETE
    assert copy.intermediate_values == {e: pytest.approx(_result(e)["test_error"]) for e in range(1, EPOCHS + 1)}
