"""Compiled training models kept between runs in one process: a sweep worker that trains the
same architecture again pays no tracing and no compilation (Tune reuses worker processes).

A compiled model is keyed by everything its training step depends on: the config without the
fields below (RUN_FIELDS), the number of learning-rate drops, the data's shapes and the steps
per compiled call. A run that finds its key gets the compiled model with all state reset:
weights, batch-norm statistics, pixel mean and augmentation RNG as a network freshly built with
the run's seed has them, the optimizer at step 0 with zero momentum and the run's
hyperparameters, and the run's data in the engine. So a reused model trains exactly as a fresh
one; tests/test_model_cache.py checks it on both backends. Those initial values are kept per
seed and pixel mean: a search, whose trials share a seed, builds them once (a build is 0.3-0.5 s
of layer construction on CPU), a study over seeds once per seed.

`$RAN_MODEL_CACHE` sets how many compiled models one process keeps (default 4; 0 keeps none).
"""

import collections
import os

import keras

from ran_core.engine import choose_steps_per_execution, make_engine
from ran_core.recipe import build_training_model, compile_for, seed_weights, set_run_hyperparameters

# Config fields a compiled model takes as state: runs differing only in these share one model.
RUN_FIELDS = ("seed", "learning_rate", "weight_decay", "momentum", "lr_drops", "epochs", "noise_ratio", "data_dir")
DEFAULT_CAPACITY = 4

_models = collections.OrderedDict()  # key -> (model, network, engine), most recently used last
_initial = collections.OrderedDict()  # (key, seed, pixel mean) -> a fresh build's variable values
INITIAL_VALUES_PER_MODEL = 4  # seeds remembered: this many times the capacity, over all cached models
stats = collections.Counter()  # "hits", "misses" and "builds_skipped" of this process (tests, benchmarks)


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
    pixel_mean = data.pixel_mean()
    start = (key, config.seed, pixel_mean.tobytes())
    cached = _models.pop(key, None)
    if cached is None:
        stats["misses"] += 1
        model, network = build_training_model(config, data.num_classes, pixel_mean)
        initial = _values(model) if limit else None  # a cache that keeps nothing copies nothing
        compile_for(model, config, steps_per_epoch)
        engine = make_engine(
            model, data.x_train, train_targets, data.x_test, data.y_test, data.num_classes, steps_per_execution
        )
        cached = (model, network, engine)
    else:
        stats["hits"] += 1
        initial = _initial.get(start)
        if initial is None:
            initial = _values(build_training_model(config, data.num_classes, pixel_mean)[0])
        else:
            stats["builds_skipped"] += 1
            seed_weights(config.seed)  # the global seeds as a build leaves them
        _reset(cached[0], initial, config, steps_per_epoch)
        cached[2].set_data(data.x_train, train_targets, data.x_test, data.y_test)
    if limit:
        _models[key] = cached
        _initial.pop(start, None)
        _initial[start] = initial
    while len(_models) > limit:
        _models.popitem(last=False)
    for stale in [s for s in _initial if s[0] not in _models]:  # values of evicted models
        del _initial[stale]
    while len(_initial) > INITIAL_VALUES_PER_MODEL * limit:
        _initial.popitem(last=False)
    return cached


def _values(model):
    """The model's weights and batch-norm, preprocessing and RNG state, as numpy arrays."""
    return [keras.ops.convert_to_numpy(v) for v in (*model.trainable_variables, *model.non_trainable_variables)]


def _reset(model, initial, config, steps_per_epoch):
    """Gives the cached model a fresh build's initial values and restarts its optimizer."""
    variables = (*model.trainable_variables, *model.non_trainable_variables)
    if len(variables) != len(initial):
        raise RuntimeError(f"cached model has {len(variables)} variables, a fresh build {len(initial)}")
    for variable, value in zip(variables, initial):
        if tuple(variable.shape) != value.shape:
            raise RuntimeError(f"cached model variable {variable.path} {variable.shape} != fresh {value.shape}")
        variable.assign(value)
    set_run_hyperparameters(model.optimizer, config, steps_per_epoch)
    model.optimizer.restart()


def clear():
    """Drops every cached model (and with them their compiled steps) and initial values."""
    _models.clear()
    _initial.clear()
