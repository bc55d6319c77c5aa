"""Training throughput (images/s) of one model on synthetic data, augmentation included.

    python benchmarks/throughput.py --model attention92 --batch-size 128 --precision mixed_bfloat16
    KERAS_BACKEND=jax python benchmarks/throughput.py --model attention56 --width 0.25

Runs the same compiled training step as a sweep trial (`ran_core.train`): uint8 images in,
pad-crop-flip and mean subtraction inside the step, Nesterov SGD. Prints one JSON object
(and writes it with --out). Ray, Optuna and TensorFlow stay off the import path under JAX.
"""

import argparse
import json
import os
import platform
import sys
import time

import keras
import numpy as np

from ran_core.results import accelerator_name, backend_version


class _StepTimer(keras.callbacks.Callback):
    """Wall time from the end of the first batch (compilation) to the end of training."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == 0:
            self.started = time.perf_counter()

    def on_train_end(self, logs=None):
        self.elapsed = time.perf_counter() - self.started


def measure(model_name, width, batch_size, precision, steps, jit_compile):
    from ran_core.config import TrainConfig
    from ran_core.data import load_dataset
    from ran_core.train import build_training_model, compile_for

    data = load_dataset("synthetic", num_train=batch_size * (steps + 1), num_test=batch_size)
    config = TrainConfig(model=model_name, width=width, dataset="synthetic", batch_size=batch_size,
                         precision=precision, epochs=10)
    started = time.perf_counter()
    model, network = build_training_model(config, data.num_classes, data.pixel_mean())
    build_s = time.perf_counter() - started
    compile_for(model, config, steps)
    if jit_compile != "auto":
        model.jit_compile = jit_compile == "true"
    targets = np.stack([data.y_train, data.y_train], axis=1)
    timer = _StepTimer()
    started = time.perf_counter()
    model.fit(data.x_train, targets, batch_size=batch_size, epochs=1, shuffle=False, verbose=0, callbacks=[timer])
    total = time.perf_counter() - started
    return {
        "model": model_name, "width": width, "batch_size": batch_size, "precision": precision,
        "jit_compile": str(model.jit_compile), "params": sum(int(np.prod(v.shape)) for v in network.trainable_variables),
        "build_s": round(build_s, 2), "first_step_s": round(total - timer.elapsed, 2), "timed_steps": steps,
        "images_per_s": round(batch_size * steps / timer.elapsed, 1), "step_ms": round(1000 * timer.elapsed / steps, 2),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", nargs="+", default=["attention56"])
    parser.add_argument("--width", type=float, nargs="+", default=[1.0])
    parser.add_argument("--batch-size", type=int, nargs="+", default=[64])
    parser.add_argument("--precision", nargs="+", default=["float32"], choices=["float32", "mixed_bfloat16"])
    parser.add_argument("--steps", type=int, default=50, help="timed training steps (after one untimed step)")
    parser.add_argument("--jit-compile", choices=["auto", "true", "false"], default="auto")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)

    device = accelerator_name()
    report = {"backend": keras.backend.backend(), "backend_version": backend_version(),
              "device": f"cpu ({os.cpu_count()} cores)" if device == "cpu" else device,
              "keras": keras.__version__, "python": platform.python_version(), "host": platform.node(),
              "results": []}
    for model_name in args.model:
        for width in args.width:
            for batch_size in args.batch_size:
                for precision in args.precision:
                    row = measure(model_name, width, batch_size, precision, args.steps, args.jit_compile)
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
