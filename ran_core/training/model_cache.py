"""Compiled training models kept between runs in one process: a sweep worker that trains the
same architecture again pays no tracing and no compilation (Tune reuses worker processes).

A compiled model is keyed by everything its training step depends on: the config without the
fields it takes per run (config.PER_RUN_FIELDS), the number of learning-rate drops, the data's
shapes and the steps per compiled call. A run that finds its key gets the compiled model with all state reset:
weights, batch-norm statistics, pixel mean and augmentation RNG as a network freshly built with
the run's seed has them, the optimizer at step 0 with zero momentum and the run's
hyperparameters, and the run's data in the engine. So a reused model trains exactly as a fresh
one; tests/test_model_cache.py checks it on both backends. The seed-dependent part of a start is
drawn from the seed alone (`ran_core.model.initial_weights`), so no run rebuilds the network to reset
it: a cache hit costs about 0.06 s on CPU where a build costs 0.3 s (Attention-56, width 1/4).

`$RAN_MODEL_CACHE` sets how many compiled models one process keeps (default 4; 0 keeps none).
"""

import collections
import os

import keras

from ran_core.model.initial_weights import start_from_seed
from ran_core.training.config import PER_RUN_FIELDS
from ran_core.training.engine import choose_steps_per_execution, make_engine
from ran_core.training.recipe import build_training_model, compile_for, seed_weights, set_run_hyperparameters

# Config fields a compiled model takes as state: runs differing only in these share one model.
DEFAULT_CAPACITY = 4

_models = collections.OrderedDict()  # key -> (model, network, engine, values after the build), newest last
stats = collections.Counter()  # "hits" and "misses" of this process (tests, benchmarks)


def capacity():
    value = os.environ.get("RAN_MODEL_CACHE", str(DEFAULT_CAPACITY))
    if not value.isdigit():
        raise ValueError(f"RAN_MODEL_CACHE must be a whole number of models (0 keeps none). Received: {value!r}")
    return int(value)


def compiled_model(config, data, train_targets, steps_per_epoch, pixel_mean=None):
    """(model, network, engine) for a run of `config` on `data`: the cached compiled model of this
    architecture with every state reset for the run, or a newly built and compiled one.
    `pixel_mean`: what the network subtracts (default: the whole training set's)."""
    limit = capacity()
    steps_per_execution = choose_steps_per_execution(config.steps_per_execution, steps_per_epoch)
    fields = {k: v for k, v in config.to_dict().items() if k not in PER_RUN_FIELDS}
    key = (
        keras.backend.backend(),
        tuple(sorted(fields.items())),
        len(config.lr_drops),
        data.x_train.shape,
        data.x_test.shape,
        data.num_classes,
        steps_per_execution,
    )
    pixel_mean = data.pixel_mean() if pixel_mean is None else pixel_mean
    cached = _models.pop(key, None)
    if cached is None:
        stats["misses"] += 1
        model, network = build_training_model(config, data.num_classes, pixel_mean)
        built = _values(model) if limit else None  # a cache that keeps nothing copies nothing
        compile_for(model, config, steps_per_epoch)
        engine = make_engine(
            model, data.x_train, train_targets, data.x_test, data.y_test, data.num_classes, steps_per_execution
        )
        cached = (model, network, engine, built)
    else:
        stats["hits"] += 1
        model, _, engine, built = cached
        _reset(model, built, config, pixel_mean, steps_per_epoch)
        engine.set_data(data.x_train, train_targets, data.x_test, data.y_test)
    if limit:
        _models[key] = cached
    while len(_models) > limit:
        _models.popitem(last=False)
    return cached[:3]


def _values(model):
    """The model's weights and batch-norm, preprocessing and RNG state, as numpy arrays."""
    return [keras.ops.convert_to_numpy(v) for v in (*model.trainable_variables, *model.non_trainable_variables)]


def _reset(model, built, config, pixel_mean, steps_per_epoch):
    """Gives the cached model the start a fresh build for `config` would have: the values every
    build shares (zero biases, unit BN scales, BN statistics), then the seeded kernels, RNG and
    pixel mean; and restarts its optimizer."""
    for variable, value in zip((*model.trainable_variables, *model.non_trainable_variables), built):
        variable.assign(value)
    seed_weights(config.seed)  # the global seeds as a build leaves them
    start_from_seed(model, config.seed, pixel_mean)
    set_run_hyperparameters(model.optimizer, config, steps_per_epoch)
    model.optimizer.restart()


def clear():
    """Drops every cached model (and with them their compiled steps)."""
    _models.clear()
