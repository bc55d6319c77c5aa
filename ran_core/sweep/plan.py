"""`--dry-run`: what a study would run and what it would cost, without starting Ray or writing.

The plan counts trials (grid cells x seeds, or a search's budget and scheduler), epochs and the
training images each trial sees, and prices them in device-hours: from `--img-per-s` (a figure
for the target accelerator) or from a short measured run of each architecture on this machine
(two epochs of a few batches of random images in the study's shape; the second epoch is timed).
Only training steps are priced; evaluation, start-up and compilation add to it.
"""

import os

from ran_core.common.names import IMAGE_SIZES, NUM_CLASSES, TRAIN_IMAGES, pretty_dataset
from ran_core.common.names import pretty_model_name as pretty_model

PROBE_BATCHES = 8  # training batches per probe epoch (fewer: per-epoch overhead shows)


def architectures(config):
    """(trials, architecture) for every kind of trial the study runs; an architecture is a dict of
    model, width, dataset, batch_size, precision and augment. A search counts every trial at each of its
    models' largest settings: an upper bound (early stopping ends most trials sooner)."""
    study = config.study
    if study.exhaustive:
        counts = {}
        for cell in study.cells():
            key = _architecture(cell)
            counts[key] = counts.get(key, 0) + 1
        return [(n, dict(key)) for key, n in counts.items()]
    base = next(study.cells())
    models = study.search.get("model") or [base.get("model", "attention56")]
    largest = {
        name: max(values) if isinstance(values, (list, tuple)) else values
        for name, values in study.search.items()
        if name in ("width", "batch_size")
    }
    kinds = [dict(_architecture({**base, **largest, "model": model})) for model in models]
    return [(config.num_samples / len(kinds), kind) for kind in kinds]


def _architecture(cell):
    return (
        ("model", cell.get("model", "attention56")),
        ("width", float(cell.get("width", 1.0))),
        ("dataset", cell.get("dataset", "cifar10")),
        ("batch_size", int(cell.get("batch_size", 64))),
        ("precision", cell.get("precision", "float32")),
        ("augment", bool(cell.get("augment", True))),
    )


def measure_images_per_s(architecture, backend):
    """Training images per second of `architecture` on this machine (Keras on `backend`)."""
    os.environ.setdefault("KERAS_BACKEND", backend)
    import numpy as np

    from ran_core.data import Dataset
    from ran_core.training.loop import train

    name, batch = architecture["dataset"], architecture["batch_size"]
    size, classes = IMAGE_SIZES[name], NUM_CLASSES[name]
    rng = np.random.default_rng(0)
    n_train, n_test = PROBE_BATCHES * batch, batch
    images = rng.integers(0, 256, (n_train + n_test, size, size, 3), dtype=np.uint8)
    labels = np.arange(n_train + n_test, dtype=np.int64) % classes
    data = Dataset(
        name,
        images[:n_train],
        labels[:n_train],
        images[n_train:],
        labels[n_train:],
        classes,
        tuple(map(str, range(classes))),
    )
    run = train({**architecture, "epochs": 2}, dataset=data)
    return run.history[-1]["images_per_s"]


def describe(config, img_per_s=None, measure=measure_images_per_s):
    """The dry run's text: trials, recipe, images per trial, the speed of each architecture and
    the estimated cost in device-hours."""
    study = config.study
    if study.exhaustive:
        cells, seeds = config.num_samples // config.seeds, f"{config.seeds} seed" + "s" * (config.seeds > 1)
        size = f"{config.num_samples} trials ({cells} grid cells x {seeds}), {config.epochs} epochs each"
    else:
        size = f"a search of {config.num_samples} TPE trials of up to {config.epochs} epochs"
    lines = [f"{study.name} ({config.preset}): {size}, scheduler {config.scheduler}"]
    lines += [f"  {line}" for line in study.recipe_lines()]
    if not config.verbose:  # TensorFlow's C++ start-up lines (no CUDA here, oneDNN) say nothing to act on
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    hours = 0.0
    for trials, arch in architectures(config):
        images = round(TRAIN_IMAGES[arch["dataset"]] * (1 - config.validation_share)) * config.epochs
        speed = img_per_s or measure(arch, config.backend)
        hours += trials * images / speed / 3600
        where = f"{pretty_model(arch['model'])} at width {arch['width']:g} on {pretty_dataset(arch['dataset'])}"
        lines.append(
            f"  {trials:g} x {where}, batch {arch['batch_size']}, {arch['precision']}: {images:,} training images "
            f"per trial at {speed:,.0f} img/s ({'given' if img_per_s else 'measured here'})"
        )
    bound = (
        "" if study.exhaustive or config.scheduler == "fifo" else " at most (early stopping ends most trials sooner)"
    )
    lines.append(
        f"estimated cost: {hours:,.2f} device-hours{bound}, training steps only (evaluation, start-up and "
        f"compilation add to it); no Ray started, nothing written"
    )
    return "\n".join(lines)
