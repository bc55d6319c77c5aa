"""Which epochs of a sweep trial write a checkpoint (trainable.CheckpointPolicy): its last epoch,
the epochs where ASHA may stop it, and otherwise one per interval. Through a real Tuner on a
local Ray, with real training."""

import pytest
from ray.tune.schedulers import ASHAScheduler

from ran_core.sweep.recorder import confusion_from
from ran_core.sweep.schedulers import asha_rungs
from ran_core.sweep.space import SMOKE
from ran_core.sweep.trainable import EVERY_EPOCH, CheckpointPolicy


def test_a_checkpoint_is_due_at_the_budget_at_a_rung_or_once_the_interval_has_passed():
    policy = CheckpointPolicy(every_s=30.0, epochs=frozenset({3}))
    assert [policy.due(epoch, 10, 5.0) for epoch in (1, 3, 9, 10)] == [False, True, False, True]
    assert policy.due(2, 10, 30.0) and not policy.due(2, 10, 29.9)
    assert all(EVERY_EPOCH.due(epoch, 10, 0.0) for epoch in range(1, 11))


@pytest.mark.parametrize(
    ("grace", "reduction_factor", "max_t"), [(1, 2, 3), (3, 3, 18), (1, 3, 27), (2, 4, 100), (5, 3, 5), (1, 2, 1)]
)
def test_asha_rungs_are_the_epochs_at_which_tunes_asha_decides(grace, reduction_factor, max_t):
    scheduler = ASHAScheduler(
        time_attr="epoch",
        metric="test_error",
        mode="min",
        grace_period=grace,
        reduction_factor=reduction_factor,
        max_t=max_t,
    )
    tunes = sorted(milestone for milestone, _ in scheduler._brackets[0]._rungs if milestone < max_t)
    assert asha_rungs(grace, reduction_factor, max_t) == tunes


@pytest.mark.slow
def test_a_trial_checkpoints_its_rungs_and_last_epoch_and_the_recorder_reads_the_last(tmp_path):
    import ray
    from ray import tune

    from ran_core.sweep.trainable import CheckpointPolicy, run_trial

    config = {**SMOKE, "dataset": "synthetic", "model": "attention56", "width": 0.0625, "epochs": 4}
    policy = CheckpointPolicy(every_s=1e9, epochs=frozenset({2}))  # no interval falls due
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        grid = tune.Tuner(
            tune.with_parameters(run_trial, checkpoint_policy=policy),
            param_space=config,
            run_config=tune.RunConfig(
                storage_path=str(tmp_path), verbose=0, checkpoint_config=tune.CheckpointConfig(num_to_keep=None)
            ),
        ).fit()
    finally:
        ray.shutdown()
    result = grid[0]
    assert result.error is None, result.error
    assert sorted(metrics["epoch"] for _, metrics in result.best_checkpoints) == [2, 4]
    matrix = confusion_from(result.checkpoint, 4)
    assert matrix is not None and sum(matrix) > 0
    assert confusion_from(result.checkpoint, 3) is None, "a checkpoint of another epoch gives no confusion matrix"
