"""The Ray Tune trainable: one sweep trial is one `ran_core.training.loop.train` run.

It lives in the installed package so that Ray workers (also under pytest) can import it. Each
epoch is reported with `ray.tune.report`; a `CheckpointPolicy` says which reports carry a
checkpoint, from which a retried or resumed trial continues.

A trial whose training or test loss stops being finite (NaN or inf) has diverged: that epoch is
reported with `diverged: True` and the trial ends there, recorded `diverged` (not completed, not
errored) in Parquet and PRUNED in Optuna.
"""

import contextlib
import dataclasses
import math
import os
import tempfile
import time

import ray
from ray import tune

from ran_core.common.keys import DIVERGED
from ran_core.training.config import TrainConfig
from ran_core.training.runtime import runtime_info

TRAIN_FIELDS = {field.name for field in dataclasses.fields(TrainConfig)}
FAIL_ENV = "RAN_FAIL_TRIAL_IF"  # test hook: "key=value" makes matching trials raise (see tests)
LOSSES = ("train_loss", "test_loss")


class _Diverged(Exception):
    """Raised from the epoch callback to leave the training loop after a diverged epoch."""


@dataclasses.dataclass(frozen=True)
class CheckpointPolicy:
    """Which epochs of a trial write a checkpoint: its last, a diverged one, every epoch in
    `epochs` (where the scheduler may stop it: ASHA's rungs), and otherwise the first epoch to end
    `every_s` seconds or more after the last checkpoint (0: every epoch).

    So a trial that completes, is stopped at a rung or diverges has the checkpoint of its last
    epoch (the recorder reads its test confusion matrix there), and a retried or resumed trial
    repeats at most about `every_s` seconds plus one epoch, trained again from the same seeds; their
    rows replace the ones recorded first. A checkpoint costs a small CPU trial 0.05 s per 1.4 s
    epoch, and more where storage is remote (benchmarks/sweep_overhead.py --checkpoint-every 0
    against the default)."""

    every_s: float = 0.0
    epochs: frozenset = frozenset()

    def due(self, epoch, budget, seconds_since_last):
        return epoch >= budget or epoch in self.epochs or seconds_since_last >= self.every_s


EVERY_EPOCH = CheckpointPolicy()


def run_trial(config, datasets=None, checkpoint_policy=EVERY_EPOCH):
    """Function trainable. `datasets` maps dataset name -> Dataset, shared via the object store;
    `checkpoint_policy` says which epochs write a checkpoint."""
    from ran_core.training.loop import train  # here, not above: the driver imports this module without Keras

    train_config = TrainConfig.from_dict({k: v for k, v in config.items() if k in TRAIN_FIELDS})
    _maybe_fail(config)
    if datasets is not None and train_config.dataset not in datasets:
        raise ValueError(
            f"dataset {train_config.dataset!r} was not shared with the trials (shared: {sorted(datasets)})"
        )
    info = {**runtime_info(), "node_id": ray.get_runtime_context().get_node_id()}
    last_checkpoint = time.monotonic()

    def report(metrics, save):
        nonlocal last_checkpoint
        diverged = not all(math.isfinite(metrics.get(name, 0.0)) for name in LOSSES)
        metrics = {**metrics, **info, DIVERGED: diverged}
        if diverged or checkpoint_policy.due(metrics["epoch"], train_config.epochs, time.monotonic() - last_checkpoint):
            with tempfile.TemporaryDirectory(prefix="ran_ckpt_") as directory:
                save(directory)
                tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(directory))
            last_checkpoint = time.monotonic()
        else:
            tune.report(metrics)
        if diverged:
            raise _Diverged

    checkpoint = tune.get_checkpoint()
    with (
        checkpoint.as_directory() if checkpoint else contextlib.nullcontext() as resume_from,
        contextlib.suppress(_Diverged),
    ):
        train(
            train_config,
            dataset=(datasets or {}).get(train_config.dataset),
            resume_from=resume_from,
            on_epoch_end=report,
            verbose=0,
        )


def _maybe_fail(config):
    rule = os.environ.get(FAIL_ENV)
    if rule:
        key, _, value = rule.partition("=")
        if str(config.get(key)) == value:
            raise RuntimeError(f"injected failure for {key}={value} ({FAIL_ENV})")
