"""Training throughput, measured two ways, plus build and compile seconds. Prints JSON.

    # (a) whole trials, exactly as a sweep trial runs (`ran_core.training.loop.train`): per-epoch wall time
    #     including evaluation, the first epoch's fixed cost, and a second identical trial's first epoch
    python benchmarks/throughput.py trial --model attention56 --width 0.25 --dataset digits --epochs 3
    # (b) steady-state steps: the compiled training step alone, timed over many steps with one sync
    python benchmarks/throughput.py step --model attention92 --batch-size 128 --precision mixed_bfloat16
    # the framework's own per-step cost (tiny model, width 1/16, batch 8): run on CPU on each backend
    KERAS_BACKEND=jax python benchmarks/throughput.py step --width 0.0625 --batch-size 8 --steps 200

`trial` only calls `train(config, dataset=..., on_epoch_end=...)`, so it also measures another
checkout's engine: `PYTHONPATH=/other/checkout python benchmarks/throughput.py trial ...`.
Ray, Optuna and TensorFlow stay off the import path under JAX (benchmarks/gpu.sh relies on it).
"""

import argparse
import dataclasses
import itertools
import json
import os
import platform
import sys
import time

import keras
import numpy as np


def trial(model, width, batch_size, precision, steps_per_execution, dataset, epochs, repeat, num_train, image_size):
    """`repeat` identical trials one after another in this process; per epoch the wall time from
    the previous epoch's end (the first: from the call to `train`, so build and compilation are in).
    The second trial's first epoch shows what a sweep worker pays for a model it already compiled."""
    from ran_core.data import load_dataset
    from ran_core.training.loop import train

    data = (
        load_dataset("synthetic", num_train=num_train, num_test=max(num_train // 5, batch_size))
        if dataset == "synthetic"
        else load_dataset(dataset)
    )
    if image_size and image_size != data.x_train.shape[1]:  # the same input for checkouts that differ
        data = dataclasses.replace(
            data, x_train=_resize(data.x_train, image_size), x_test=_resize(data.x_test, image_size)
        )
    config = dict(
        model=model,
        width=width,
        dataset=dataset,
        batch_size=batch_size,
        precision=precision,
        epochs=epochs,
        learning_rate=0.05,
    )
    if steps_per_execution is not None:
        config["steps_per_execution"] = steps_per_execution
    images = (len(data.x_train) // batch_size) * batch_size
    trials = []
    for _ in range(repeat):
        marks = [time.perf_counter()]
        result = train(
            config, dataset=data, on_epoch_end=lambda metrics, save, marks=marks: marks.append(time.perf_counter())
        )
        walls = np.diff(marks)
        steady = float(np.median(walls[1:])) if len(walls) > 1 else None
        trials.append(
            {
                "epoch_wall_s": [round(float(w), 3) for w in walls],
                "steady_epoch_s": round(steady, 3) if steady else None,
                "fixed_cost_s": round(float(walls[0]) - steady, 3) if steady else None,
                "first_epoch_vs_steady": round(float(walls[0]) / steady, 2) if steady else None,
                "end_to_end_images_per_s": round(images / steady, 1) if steady else None,
                "final_test_accuracy": result.history[-1]["test_accuracy"],
            }
        )
    return {
        "mode": "trial",
        "model": model,
        "width": width,
        "batch_size": batch_size,
        "precision": precision,
        "steps_per_execution": steps_per_execution,
        "dataset": dataset,
        "image_size": int(data.x_train.shape[1]),
        "train_images": images,
        "epochs": epochs,
        "params": result.params,
        "trials": trials,
    }


def _resize(images, size):
    """Block-upscaled images at another multiple of their block size: pixels repeated or strided."""
    have = images.shape[1]
    if size % have == 0:
        return images.repeat(size // have, axis=1).repeat(size // have, axis=2)
    if have % size == 0:
        return np.ascontiguousarray(images[:, :: have // size, :: have // size])
    raise ValueError(f"--image-size must divide or be a multiple of {have}. Received: {size}")


def step(model, width, batch_size, precision, steps_per_execution, steps):
    """Build, compile (first compiled call) and steady steps of the training step on synthetic data;
    the steady phase syncs once, at its end."""
    from ran_core.data import load_dataset
    from ran_core.training.config import TrainConfig
    from ran_core.training.engine import choose_steps_per_execution, make_engine
    from ran_core.training.recipe import build_training_model, compile_for

    config = TrainConfig(
        model=model,
        width=width,
        dataset="synthetic",
        batch_size=batch_size,
        precision=precision,
        epochs=10,
        steps_per_execution=steps_per_execution or 0,
    )
    spe = choose_steps_per_execution(config.steps_per_execution, steps)
    steps = -(-steps // spe) * spe  # whole compiled calls
    data = load_dataset("synthetic", num_train=batch_size * steps, num_test=batch_size)
    targets = np.stack([data.y_train, data.y_train], axis=1)
    started = time.perf_counter()
    model_, network = build_training_model(config, data.num_classes, data.pixel_mean())
    compile_for(model_, config, steps)
    engine = make_engine(model_, data.x_train, targets, data.x_test, data.y_test, data.num_classes, spe)
    build_s = time.perf_counter() - started
    first = np.arange(spe * batch_size)
    started = time.perf_counter()
    engine.train_epoch(first, batch_size)  # compiles, then runs one call; reading metrics syncs
    first_call_s = time.perf_counter() - started
    started = time.perf_counter()
    engine.train_epoch(first, batch_size)
    call_s = time.perf_counter() - started
    order = np.arange(steps * batch_size)
    started = time.perf_counter()
    engine.train_epoch(order, batch_size)
    elapsed = time.perf_counter() - started
    return {
        "mode": "step",
        "model": model,
        "width": width,
        "batch_size": batch_size,
        "precision": precision,
        "steps_per_execution": spe,
        "jit_compile": str(model_.jit_compile),
        "params": sum(int(np.prod(v.shape)) for v in network.trainable_variables),
        "build_s": round(build_s, 2),
        "compile_s": round(first_call_s - call_s, 2),
        "timed_steps": steps,
        "images_per_s": round(batch_size * steps / elapsed, 1),
        "step_ms": round(1000 * elapsed / steps, 3),
    }


def device_name():
    """The accelerator's name (e.g. 'NVIDIA H200'), or 'cpu (N cores)'."""
    if keras.backend.backend() == "jax":
        import jax

        device = jax.devices()[0]
        return f"cpu ({os.cpu_count()} cores)" if device.platform == "cpu" else device.device_kind
    from ran_core.training.runtime import accelerator_name

    name = accelerator_name()
    return f"cpu ({os.cpu_count()} cores)" if name == "cpu" else name


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("mode", choices=["trial", "step"], help="whole trials (a) or steady-state steps (b)")
    parser.add_argument("--model", nargs="+", default=["attention56"], help="registered model names")
    parser.add_argument("--width", type=float, nargs="+", default=[1.0], help="channel multipliers")
    parser.add_argument("--batch-size", type=int, nargs="+", default=[64], help="batch sizes")
    parser.add_argument(
        "--precision", nargs="+", default=["float32"], choices=["float32", "mixed_bfloat16"], help="dtype policies"
    )
    parser.add_argument(
        "--steps-per-execution",
        type=int,
        nargs="+",
        default=[None],
        help="steps per compiled call (0 = automatic; default: the config's default)",
    )
    parser.add_argument("--steps", type=int, default=50, help="step: timed steady-state steps")
    parser.add_argument("--dataset", default="synthetic", help="trial: dataset (synthetic, digits, cifar10...)")
    parser.add_argument("--num-train", type=int, default=2048, help="trial: training images of synthetic data")
    parser.add_argument("--epochs", type=int, default=3, help="trial: epochs per trial (>= 2 for a steady epoch)")
    parser.add_argument("--repeat", type=int, default=2, help="trial: identical trials in one process")
    parser.add_argument("--image-size", type=int, help="trial: resize block-upscaled images to this size")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)

    report = {
        "backend": keras.backend.backend(),
        "device": device_name(),
        "keras": keras.__version__,
        "python": platform.python_version(),
        "host": platform.node(),
        "compile_cache": os.environ.get("JAX_COMPILATION_CACHE_DIR"),
        "results": [],
    }
    grid = itertools.product(args.model, args.width, args.batch_size, args.precision, args.steps_per_execution)
    for model, width, batch_size, precision, spe in grid:
        if args.mode == "trial":
            row = trial(
                model,
                width,
                batch_size,
                precision,
                spe,
                args.dataset,
                args.epochs,
                args.repeat,
                args.num_train,
                args.image_size,
            )
        else:
            row = step(model, width, batch_size, precision, spe, args.steps)
        report["results"].append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
