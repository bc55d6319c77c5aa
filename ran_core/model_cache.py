"""Compiled training models kept between runs in one process: a sweep worker that trains the
same architecture again pays no tracing and no compilation (Tune reuses worker processes).

A compiled model is keyed by everything its training step depends on: the config without the
fields below (RUN_FIELDS), the number of learning-rate drops, the data's shapes and the steps
per compiled call. A run that finds its key gets the compiled model with all state reset:
weights, batch-norm statistics, pixel mean and augmentation RNG copied from a network freshly
built with the run's seed (layer construction only, no tracing), the optimizer at step 0 with
zero momentum and the run's hyperparameters, and the run's data in the engine. So a reused model
trains exactly as a fresh one; tests/test_model_cache.py checks it on both backends.

`$RAN_MODEL_CACHE` sets how many compiled models one process keeps (default 4; 0 keeps none).
"""

import collections
import os

import keras

from ran_core.engine import choose_steps_per_execution, make_engine
from ran_core.recipe import build_training_model, compile_for, set_run_hyperparameters

# Config fields a compiled model takes as state: runs differing only in these share one model.
RUN_FIELDS = ("seed", "learning_rate", "weight_decay", "momentum", "lr_drops", "epochs", "noise_ratio", "data_dir")
DEFAULT_CAPACITY = 4

_models = collections.OrderedDict()  # key -> (model, network, engine), most recently used last
stats = collections.Counter()  # "hits" and "misses" of this process, for tests and benchmarks


def capacity():
    value = os.environ.get("RAN_MODEL_CACHE", str(DEFAULT_CAPACITY))
    if not value.isdigit():
        raise ValueError(f"RAN_MODEL_CACHE must be a whole number of models (0 keeps none). Received: {value!r}")
    return int(value)


def compiled_model(config, data, train_targets, steps_per_epoch):
    """(model, network, engine) for a run of `config` on `data`: the cached compiled model of this
    architecture with every state reset for the run, or a newly built and compiled one."""
    limit = capacity()
    steps_per_execution = choose_steps_per_execution(config.steps_per_execution, steps_per_epoch)
    fields = {k: v for k, v in config.to_dict().items() if k not in RUN_FIELDS}
    key = (
        keras.backend.backend(),
        tuple(sorted(fields.items())),
        len(config.lr_drops),
        data.x_train.shape,
        data.x_test.shape,
        data.num_classes,
        steps_per_execution,
    )
    model, network = build_training_model(config, data.num_classes, data.pixel_mean())
    cached = _models.pop(key, None)
    if cached is None:
        stats["misses"] += 1
        compile_for(model, config, steps_per_epoch)
        engine = make_engine(
            model, data.x_train, train_targets, data.x_test, data.y_test, data.num_classes, steps_per_execution
        )
        cached = (model, network, engine)
    else:
        stats["hits"] += 1
        _reset(cached, model, config, steps_per_epoch)
        cached[2].set_data(data.x_train, train_targets, data.x_test, data.y_test)
    if limit:
        _models[key] = cached
    while len(_models) > limit:
        _models.popitem(last=False)
    return cached


def _reset(cached, fresh_model, config, steps_per_epoch):
    """Copies the fresh model's initial state into the cached one and restarts its optimizer."""
    model = cached[0]
    for group in ("trainable_variables", "non_trainable_variables"):
        targets, sources = getattr(model, group), getattr(fresh_model, group)
        for target, source in zip(targets, sources, strict=True):
            if target.shape != source.shape:
                raise RuntimeError(f"cached model variable {target.path} {target.shape} != fresh {source.shape}")
            target.assign(source.value)
    set_run_hyperparameters(model.optimizer, config, steps_per_epoch)
    model.optimizer.restart()


def clear():
    """Drops every cached model (and with them their compiled steps)."""
    _models.clear()
