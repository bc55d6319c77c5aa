"""Sweep overhead: wall time of a whole sweep against the trials' own time.

    python benchmarks/sweep_overhead.py --trials 16 --epochs 26
    python benchmarks/sweep_overhead.py --trials 32 --epochs 18 --scheduler asha asha-stopping

Runs a real sweep (local Ray, Optuna, Parquet recorder) of small Attention-56 trials on digits, one
CPU each, and prints JSON with ratio = sweep wall time / (sum of the trials' training time /
concurrency), training time being the epochs' own time (epochs.parquet). 1.0 would be a sweep that
costs nothing beyond training; the rest is Ray, process start (once per worker: trials reuse worker
processes), Keras build, evaluation and checkpoints; the first epoch's compilation counts as
training. Trials' wall times give a second ratio for comparison. With `--scheduler fifo` (the
default) the sweep is a grid of `--trials` seeds; with an ASHA it is a TPE search of as many trials
over learning rate and weight decay, stopped early, and the JSON adds the epochs run as a fraction
of the full budget and, for `asha`, how many times a trial resumed after waiting at a rung: what
waiting costs shows in the ratio. Schedulers named together run one after the other. Measures whatever
ran_core.training.loop is on the branch.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from ran_core.results import read_results
from ran_core.sweep import experiments
from ran_core.sweep.flags import SCHEDULERS
from ran_core.sweep.runner import run_study
from ran_core.sweep.schedulers import asha_rungs
from ran_core.sweep.space import Study


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=2, help="tune so one trial takes about a minute")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument(
        "--checkpoint-every", type=float, help="the sweep's flag (seconds; 0: every epoch); default: the sweep's"
    )
    parser.add_argument("--scheduler", nargs="+", choices=SCHEDULERS, default=["fifo"])
    args = parser.parse_args()
    for scheduler in args.scheduler:
        print(json.dumps(measure(args, scheduler)), flush=True)


def measure(args, scheduler):
    fixed = {"model": "attention56", "dataset": "digits", "width": 0.25, "epochs": args.epochs}
    if scheduler == "fifo":
        study, extra = Study("sweep_overhead", fixed=fixed, seeds=tuple(range(args.trials))), []
    else:
        search = {"learning_rate": (0.01, 0.3), "weight_decay": (1e-5, 1e-3)}
        study = Study("sweep_overhead", search=search, fixed={**fixed, "validation_share": 0.2})
        extra = ["--scheduler", scheduler, "--num-samples", str(args.trials)]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        status = run_study(
            {"smoke": study},
            [
                "--no-dashboard",
                "--output",
                f"{tmp}/out",
                "--storage",
                f"{tmp}/storage",
                "--max-concurrent",
                str(args.concurrency),
                *extra,
                *([] if args.checkpoint_every is None else ["--checkpoint-every", str(args.checkpoint_every)]),
            ],
        )
        wall = time.perf_counter() - started
        trials = read_results(Path(tmp) / "out", "trials").to_pandas()
        epochs = read_results(Path(tmp) / "out", "epochs").to_pandas()
        recorded = experiments.read(Path(tmp) / "out")["flags"]
    rungs = (
        asha_rungs(recorded["grace_period"], recorded["reduction_factor"], args.epochs) if scheduler == "asha" else []
    )
    resumes = sum(sum(rung < run for rung in rungs) for run in trials["epochs_run"])  # a pause at each rung passed
    training = epochs["epoch_time_s"].sum() / args.concurrency
    trial_wall = trials["wall_time_s"].sum() / args.concurrency
    return {
        "scheduler": scheduler,
        "exit_status": status,
        "checkpoint_every": args.checkpoint_every,
        "trials": len(trials),
        "concurrency": args.concurrency,
        "epochs_run_fraction": round(len(epochs) / (len(trials) * args.epochs), 3),
        "resumes_after_a_rung": int(resumes),
        "mean_trial_wall_s": round(trials["wall_time_s"].mean(), 1),
        "sweep_wall_s": round(wall, 1),
        "training_over_concurrency_s": round(training, 1),
        "ratio_to_training": round(wall / training, 3),
        "trial_wall_over_concurrency_s": round(trial_wall, 1),
        "ratio_to_trial_wall": round(wall / trial_wall, 3),
    }


if __name__ == "__main__":
    main()
