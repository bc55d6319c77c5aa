"""The Ray Tune trainable: one sweep trial is one `ran_core.train.train` run.

It lives in the installed package so that Ray workers (also under pytest) can import it. Each
epoch is reported with `ray.tune.report` together with a checkpoint, so ASHA can stop the trial
at a rung and a retried or resumed trial continues from its last epoch.

A trial whose training or test loss stops being finite (NaN or inf) has diverged: that epoch is
reported with `diverged: True` and the trial ends there, recorded `diverged` (not completed, not
errored) in Parquet and PRUNED in Optuna.
"""

import contextlib
import dataclasses
import math
import os
import tempfile

import ray
from ray import tune

from ran_core.config import TrainConfig
from ran_core.optuna_glue import DIVERGED
from ran_core.results import runtime_info
from ran_core.train import train

TRAIN_FIELDS = {field.name for field in dataclasses.fields(TrainConfig)}
FAIL_ENV = "RAN_FAIL_TRIAL_IF"  # test hook: "key=value" makes matching trials raise (see tests)
LOSSES = ("train_loss", "test_loss")


class _Diverged(Exception):
    """Raised from the epoch callback to leave the training loop after a diverged epoch."""


def run_trial(config, datasets=None):
    """Function trainable. `datasets` maps dataset name -> Dataset, shared via the object store."""
    train_config = TrainConfig.from_dict({k: v for k, v in config.items() if k in TRAIN_FIELDS})
    _maybe_fail(config)
    if datasets is not None and train_config.dataset not in datasets:
        raise ValueError(
            f"dataset {train_config.dataset!r} was not shared with the trials (shared: {sorted(datasets)})"
        )
    info = {**runtime_info(), "node_id": ray.get_runtime_context().get_node_id()}

    def report(metrics, save):
        diverged = not all(math.isfinite(metrics.get(name, 0.0)) for name in LOSSES)
        with tempfile.TemporaryDirectory(prefix="ran_ckpt_") as directory:
            save(directory)
            tune.report({**metrics, **info, DIVERGED: diverged}, checkpoint=tune.Checkpoint.from_directory(directory))
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
