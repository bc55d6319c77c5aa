"""One training run with the paper's recipe: `train(config)` and `python -m ran_core.train`.

Each epoch trains on a seeded permutation of the training set (augmentation inside the compiled
step, data placed once: `ran_core.engine`), scores the clean test set in one compiled call, and
can write a checkpoint (weights, optimizer state and schedule position, augmentation RNG,
history) from which a stopped run resumes to the same result. The network outputs logits; the
loss is cross-entropy from logits on every backend. A process that trains the same architecture
again reuses its compiled model with every state reset (`ran_core.model_cache`).
"""

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

from ran_core.config import TrainConfig
from ran_core.data import load_dataset
from ran_core.model_cache import compiled_model
from ran_core.noise import noisy_labels
from ran_core.results import write_atomic


@dataclasses.dataclass
class TrainResult:
    """What a finished (or stopped) run leaves: per-epoch metrics and the last test confusion."""

    config: TrainConfig
    history: list
    confusion: np.ndarray  # [num_classes, num_classes], true label = row, last epoch
    params: int
    num_classes: int


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
    steps_per_epoch = check_batch_size(config, data)
    noisy = config.noise_ratio > 0
    labels = noisy_labels(data.y_train, config.noise_ratio, data.num_classes, config.seed)[0] if noisy else data.y_train
    realised_noise = float(np.mean(labels != data.y_train))
    train_targets = np.stack([labels, data.y_train], axis=1)

    model, network, engine = compiled_model(config, data, train_targets, steps_per_epoch)
    params = sum(int(np.prod(v.shape)) for v in network.trainable_variables)
    history, start_epoch = [], 0
    if resume_from is not None:
        state = load_checkpoint(model, resume_from)
        if _result_fields(state["config"]) != _result_fields(json.loads(json.dumps(config.to_dict()))):
            raise ValueError(f"checkpoint {resume_from} was written for another config: {state['config']}")
        history, start_epoch = state["history"], state["epoch"]
        confusion = np.asarray(state["confusion"], dtype=np.int64)
    else:
        confusion = np.zeros((data.num_classes, data.num_classes), dtype=np.int64)

    for epoch in range(start_epoch, config.epochs):
        order = np.random.default_rng([config.seed, epoch]).permutation(len(data.x_train))
        order = order[: steps_per_epoch * config.batch_size]  # whole batches: one compiled shape
        started = time.perf_counter()
        fit = engine.train_epoch(order, config.batch_size)
        epoch_time = time.perf_counter() - started
        test = engine.evaluate()
        confusion = test.pop("confusion")
        metrics = {
            "epoch": epoch + 1,
            "train_loss": fit["loss"],
            "train_accuracy": fit["accuracy"],
            "clean_train_accuracy": fit["clean_accuracy"] if noisy else None,
            **test,
            "learning_rate": model.optimizer.learning_rate_at(int(model.optimizer.iterations) - 1),
            "epoch_time_s": epoch_time,
            "images_per_s": len(order) / epoch_time,
            "params": params,
            "num_classes": data.num_classes,
            "realised_noise_ratio": realised_noise,
        }
        history.append(metrics)
        state = {"epoch": epoch + 1, "history": history, "config": config.to_dict(), "confusion": confusion.tolist()}
        if checkpoint_dir is not None:
            keep_latest_checkpoint(model, state, Path(checkpoint_dir))
        if verbose:
            print(_epoch_line(metrics), flush=True)
        if on_epoch_end is not None:
            on_epoch_end(dict(metrics), lambda directory, state=state: save_checkpoint(model, state, directory))
    return TrainResult(config, history, confusion, params, data.num_classes)


def check_batch_size(config, data):
    """Steps per epoch (whole batches); a ValueError when the batch exceeds the training set."""
    steps_per_epoch = len(data.x_train) // config.batch_size
    if steps_per_epoch < 1:
        raise ValueError(
            f"batch_size={config.batch_size} exceeds the {len(data.x_train)} training images of {config.dataset!r}"
        )
    return steps_per_epoch


def _result_fields(config):
    """Config fields that change what a run computes (not where its data lives or how it is fed)."""
    return {k: v for k, v in config.items() if k not in ("data_dir", "steps_per_execution")}


# --- checkpoints -------------------------------------------------------------------------------


WEIGHTS_FILE = "variables.npz"  # every model and optimizer variable, in the model's order
LEGACY_WEIGHTS_FILE = "model.weights.h5"  # written before 2026-11-30; still read


def _checkpointed_variables(model):
    """What a checkpoint holds besides state.json: weights, batch-norm statistics, and the
    optimizer's step, hyperparameters and momentum, in construction order (the same for every
    build of one config, in any process)."""
    return [*model.trainable_variables, *model.non_trainable_variables, *model.optimizer.variables]


def save_checkpoint(model, state, directory):
    """Writes every variable (one uncompressed .npz: 0.05 s for Attention-56, where Keras' .h5
    took 0.3 s, a fifth of a small trial's epoch), the augmentation RNG and `state` into
    `directory`. state.json is written last: a folder without it is not a checkpoint."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.optimizer.build(model.trainable_variables)
    arrays = {f"v{i:04d}": keras.ops.convert_to_numpy(v) for i, v in enumerate(_checkpointed_variables(model))}
    with open(directory / WEIGHTS_FILE, "wb") as handle:
        np.savez(handle, **arrays)
    rng = model.get_layer("preprocess").rng.state
    state = {**state, "rng_state": keras.ops.convert_to_numpy(rng).tolist()}
    write_atomic(directory / "state.json", json.dumps(state))


def load_checkpoint(model, directory):
    """Restores a checkpoint into a compiled model built from the same config; returns its state.
    A checkpoint of another architecture is refused, naming the first variable that differs."""
    directory = Path(directory)
    if (directory / "latest").exists():
        directory = directory / (directory / "latest").read_text().strip()
    state_file = directory / "state.json"
    if not state_file.exists():
        raise FileNotFoundError(f"No checkpoint in {directory}: state.json is missing")
    state = json.loads(state_file.read_text())
    model.optimizer.build(model.trainable_variables)
    if (directory / WEIGHTS_FILE).exists():
        _assign_checkpointed(model, directory / WEIGHTS_FILE)
    else:
        _load_legacy(model, directory / LEGACY_WEIGHTS_FILE, state["epoch"])
    model.get_layer("preprocess").rng.state.assign(np.asarray(state["rng_state"], dtype="uint32"))
    return state


def _load_legacy(model, path, epoch):
    """Keras .h5 weights. Keras skips an optimizer whose variables do not match (with a warning
    only); a run resumed that way would restart its schedule and momentum, so it is refused."""
    model.optimizer.iterations.assign(0)
    model.load_weights(path)
    if epoch > 0 and int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 0:
        raise ValueError(
            f"checkpoint {path} holds no optimizer state this version can read (written by an older "
            "optimizer): it cannot resume exactly. Start the run afresh."
        )


def _assign_checkpointed(model, path):
    variables = _checkpointed_variables(model)
    with np.load(path) as stored:
        if len(stored.files) != len(variables):
            raise ValueError(
                f"checkpoint {path} holds {len(stored.files)} variables, this model has {len(variables)}: "
                "it was written for another architecture"
            )
        values = [stored[f"v{i:04d}"] for i in range(len(variables))]
    for variable, value in zip(variables, values):
        if tuple(variable.shape) != value.shape:
            raise ValueError(
                f"checkpoint {path} does not fit this model: variable {variable.path} has shape "
                f"{tuple(variable.shape)}, the checkpoint {value.shape}"
            )
    for variable, value in zip(variables, values):
        variable.assign(value)


def keep_latest_checkpoint(model, state, root):
    """root/epoch_NNNN/ plus root/latest naming it, switched atomically; older epochs removed."""
    name = f"epoch_{state['epoch']:04d}"
    save_checkpoint(model, state, root / name)
    write_atomic(root / "latest", name)
    for old in root.glob("epoch_*"):
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)


# --- command line ------------------------------------------------------------------------------


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m ran_core.train",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    for field in dataclasses.fields(TrainConfig):
        flag, text = "--" + field.name.replace("_", "-"), field.metadata["help"]
        if isinstance(field.default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=field.default, help=text)
        elif isinstance(field.default, tuple):
            kind = type(field.default[0])
            parser.add_argument(flag, type=kind, nargs="+", default=list(field.default), help=text)
        else:
            kind = type(field.default) if field.default is not None else str
            parser.add_argument(flag, type=kind, default=field.default, help=text)
    parser.add_argument("--checkpoint-dir", help="keep the latest epoch's checkpoint here")
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint-dir")
    parser.add_argument("--json", help="write the final metrics and history here")
    parser.add_argument("--verbose", type=int, choices=[0, 1], default=1, help="1: one line per epoch")
    return parser


def main(argv=None):
    args = vars(_parser().parse_args(argv))
    checkpoint_dir, resume, json_path = args.pop("checkpoint_dir"), args.pop("resume"), args.pop("json")
    verbose = args.pop("verbose")
    try:  # every check before any training, so a bad invocation writes nothing
        config = TrainConfig.from_dict(args)
        if resume and not (checkpoint_dir and (Path(checkpoint_dir) / "latest").exists()):
            raise ValueError(f"--resume needs a --checkpoint-dir holding a checkpoint. Received: {checkpoint_dir!r}")
        if json_path:
            _check_writable(json_path, "--json", folder=False)
        if checkpoint_dir:
            _check_writable(checkpoint_dir, "--checkpoint-dir", folder=True)
        data = load_dataset(config.dataset, config.data_dir)
        check_batch_size(config, data)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    result = train(
        config,
        dataset=data,
        resume_from=checkpoint_dir if resume else None,
        checkpoint_dir=checkpoint_dir,
        verbose=verbose,
    )
    final = result.history[-1]
    print(
        f"done: {config.model} on {config.dataset}, {result.params:,} parameters, "
        f"test accuracy {final['test_accuracy']:.4f} after {final['epoch']} epochs"
    )
    if json_path:
        write_atomic(
            json_path,
            json.dumps({"config": config.to_dict(), "params": result.params, "history": result.history}, indent=1),
        )
    return 0


def _check_writable(path, flag, folder):
    """A ValueError unless `path` can be written (created if missing), without creating anything."""
    path = Path(path)
    if path.exists() and path.is_dir() != folder:
        raise ValueError(f"{flag} must name a {'folder' if folder else 'file'}. Received: {str(path)!r}")
    existing = path if path.exists() else next(p for p in path.absolute().parents if p.exists())
    if not existing.is_dir() and existing != path:
        raise ValueError(f"{flag}: {str(existing)!r} is not a folder. Received: {str(path)!r}")
    folder_to_probe = existing if existing.is_dir() else existing.parent
    try:  # a real write (os.access says yes to root even where writes fail)
        tempfile.TemporaryFile(dir=folder_to_probe).close()
    except OSError as error:
        raise ValueError(
            f"{flag}: {str(folder_to_probe)!r} is not writable ({error.strerror}). Received: {str(path)!r}"
        ) from None


def _epoch_line(m):
    clean = f" clean_train_acc {m['clean_train_accuracy']:.4f}" if m["clean_train_accuracy"] is not None else ""
    return (
        f"epoch {m['epoch']}: train_loss {m['train_loss']:.4f} train_acc {m['train_accuracy']:.4f}{clean} "
        f"test_loss {m['test_loss']:.4f} test_acc {m['test_accuracy']:.4f} lr {m['learning_rate']:.4g} "
        f"{m['epoch_time_s']:.1f}s {m['images_per_s']:.0f} img/s"
    )


if __name__ == "__main__":
    sys.exit(main())
