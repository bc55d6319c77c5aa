"""One training run with the paper's recipe: `train(config)` (on the command line: `python -m ran_core.training`).

Each epoch trains on a seeded permutation of the training set (augmentation inside the compiled
step, data placed once: `ran_core.training.engine`), scores the clean test set in one compiled call, and
can write a checkpoint (weights, optimizer state and schedule position, augmentation RNG,
history, the last test confusion matrix and which test images it got right) from which a stopped
run resumes to the same result.

With `validation_share` > 0 a stratified share of the training images (`ran_core.data.split`,
drawn from `split_seed`) never trains: it is scored every epoch against its clean labels
(`val_loss`, `val_error`), label noise is drawn for the training part only, and the pixel mean
the network subtracts is the training part's. With 0 (the paper's protocol) every image trains.

The network outputs logits; the loss is cross-entropy from logits on every backend. A process that
trains the same architecture again reuses its compiled model with every state reset
(`ran_core.training.model_cache`).
"""

import base64
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from ran_core.data import load_dataset
from ran_core.data.noise import noisy_labels
from ran_core.data.split import validation_split
from ran_core.training.checkpoints import keep_latest_checkpoint, load_checkpoint, save_checkpoint
from ran_core.training.config import RESULT_FIELDS, TrainConfig
from ran_core.training.model_cache import compiled_model


@dataclasses.dataclass
class TrainResult:
    """What a finished (or stopped) run leaves: per-epoch metrics and the last epoch's test
    confusion matrix and per-image outcomes."""

    config: TrainConfig
    history: list
    confusion: np.ndarray  # [num_classes, num_classes], true label = row, last epoch
    params: int
    num_classes: int
    test_correct: np.ndarray | None = None  # bool [test images]: right at the last epoch


def train(config, *, dataset=None, resume_from=None, checkpoint_dir=None, on_epoch_end=None, verbose=0):
    """Trains `config` (a TrainConfig or a mapping) and returns a TrainResult.

    dataset: an already loaded Dataset (a sweep shares one per node); else it is loaded here.
    resume_from: a checkpoint folder written by this function; training continues after its epoch.
    checkpoint_dir: keep the latest checkpoint there (`latest` names it; the one before is removed).
    on_epoch_end(metrics, save): called after every epoch with the metrics dict and a function
        `save(directory)` that writes that epoch's checkpoint where the caller wants it.
    verbose: 1 prints one line per epoch.
    """
    config = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(dict(config))
    data = dataset if dataset is not None else load_dataset(config.dataset, config.data_dir)
    if data.name != config.dataset:
        raise ValueError(f"dataset {data.name!r} passed for config.dataset={config.dataset!r}")
    split = split_of(config, data)
    steps_per_epoch = check_batch_size(config, data, split)
    noisy = config.noise_ratio > 0
    labels = training_labels(config, data, split)
    realised_noise = float(np.mean(labels[split.train] != data.y_train[split.train]))
    train_targets = np.stack([labels, data.y_train], axis=1)

    model, network, engine = compiled_model(config, data, train_targets, steps_per_epoch, _pixel_mean(data, split))
    engine.set_validation(split.validation, data.y_train)
    params = sum(int(np.prod(v.shape)) for v in network.trainable_variables)
    history, start_epoch, confusion, correct = _start(model, config, data.num_classes, resume_from)
    for epoch in range(start_epoch, config.epochs):
        order = epoch_order(config, split, epoch, steps_per_epoch)
        started = time.perf_counter()
        fit = engine.train_epoch(order, config.batch_size)
        epoch_time = time.perf_counter() - started
        test = engine.evaluate()
        confusion, correct = test.pop("confusion"), test.pop("correct")
        metrics = {
            "epoch": epoch + 1,
            "train_loss": fit["loss"],
            "train_accuracy": fit["accuracy"],
            "clean_train_accuracy": fit["clean_accuracy"] if noisy else None,
            **test,
            **engine.evaluate_validation(),
            "learning_rate": model.optimizer.learning_rate_at(int(model.optimizer.iterations) - 1),
            "epoch_time_s": epoch_time,
            "images_per_s": len(order) / epoch_time,
            "params": params,
            "num_classes": data.num_classes,
            "realised_noise_ratio": realised_noise,
        }
        history.append(metrics)
        state = {
            "epoch": epoch + 1,
            "history": history,
            "config": config.to_dict(),
            "confusion": confusion.tolist(),
            "test_correct": pack_outcomes(correct),
        }
        if checkpoint_dir is not None:
            keep_latest_checkpoint(model, state, Path(checkpoint_dir))
        if verbose:
            print(_epoch_line(metrics), flush=True)
        if on_epoch_end is not None:
            on_epoch_end(dict(metrics), lambda directory, state=state: save_checkpoint(model, state, directory))
    return TrainResult(config, history, confusion, params, data.num_classes, correct)


def _start(model, config, num_classes, resume_from):
    """(history, first epoch, confusion, test outcomes) a run starts from: nothing, or the
    checkpoint at `resume_from` (restored into `model`), refused if written for another config."""
    if resume_from is None:
        return [], 0, np.zeros((num_classes, num_classes), dtype=np.int64), None
    state = load_checkpoint(model, resume_from)
    if _result_fields(state["config"]) != _result_fields(json.loads(json.dumps(config.to_dict()))):
        raise ValueError(f"checkpoint {resume_from} was written for another config: {state['config']}")
    confusion = np.asarray(state["confusion"], dtype=np.int64)
    return state["history"], state["epoch"], confusion, unpack_outcomes(state.get("test_correct"), int(confusion.sum()))


def training_labels(config, data, split):
    """The labels the run trains on, one per training-set image: the paper's noise (Eq. 7, from
    the run's seed) on the training part; the validation part's stay clean, as the test set's do."""
    if config.noise_ratio == 0:
        return data.y_train
    labels = noisy_labels(data.y_train, config.noise_ratio, data.num_classes, config.seed)[0]
    labels[split.validation] = data.y_train[split.validation]
    return labels


def epoch_order(config, split, epoch, steps_per_epoch):
    """The training-set indices an epoch trains on, in order: a permutation of the training part
    drawn from (seed, epoch), cut to whole batches (one compiled shape)."""
    order = split.train[np.random.default_rng([config.seed, epoch]).permutation(len(split.train))]
    return order[: steps_per_epoch * config.batch_size]


def split_of(config, data):
    """The run's training and validation indices (`ran_core.data.split`; no validation at share 0)."""
    return validation_split(data.y_train, config.validation_share, config.split_seed)


def check_batch_size(config, data, split=None):
    """Steps per epoch (whole batches of the training part); a ValueError when the batch exceeds it."""
    images = len((split or split_of(config, data)).train)
    steps_per_epoch = images // config.batch_size
    if steps_per_epoch < 1:
        share = config.validation_share
        held_out = f" (after holding out validation_share={share:g})" if share else ""
        raise ValueError(
            f"batch_size={config.batch_size} exceeds the {images} training images of {config.dataset!r}{held_out}"
        )
    return steps_per_epoch


def _pixel_mean(data, split):
    """Per-pixel mean of the images that train: the dataset's (cached) without a split, else the
    training part's (all images' sum less the validation images', in float64)."""
    if not len(split.validation):
        return data.pixel_mean()
    total = data.x_train.sum(axis=0, dtype=np.float64) - data.x_train[split.validation].sum(axis=0, dtype=np.float64)
    return (total / len(split.train)).astype(np.float32)


def pack_outcomes(correct):
    """Per-image outcomes (bool [images]) as checkpoints hold them: numpy.packbits, base64 text."""
    return None if correct is None else base64.b64encode(np.packbits(np.asarray(correct, dtype=bool))).decode("ascii")


def unpack_outcomes(text, count):
    """bool [count] from `pack_outcomes`' text; None for None."""
    if text is None:
        return None
    return np.unpackbits(np.frombuffer(base64.b64decode(text), dtype=np.uint8), count=count).astype(bool)


def _result_fields(config):
    """The values of a config dict that change what a run computes (config.RESULT_FIELDS)."""
    return {k: config.get(k) for k in RESULT_FIELDS}


def _epoch_line(m):
    clean = f" clean_train_acc {m['clean_train_accuracy']:.4f}" if m["clean_train_accuracy"] is not None else ""
    return (
        f"epoch {m['epoch']}: train_loss {m['train_loss']:.4f} train_acc {m['train_accuracy']:.4f}{clean} "
        f"test_loss {m['test_loss']:.4f} test_acc {m['test_accuracy']:.4f} lr {m['learning_rate']:.4g} "
        f"{m['epoch_time_s']:.1f}s {m['images_per_s']:.0f} img/s"
    )
