"""Sweep overhead: wall time of a whole sweep against the trials' own time.

    python benchmarks/sweep_overhead.py --trials 16 --epochs 2

Runs a real grid sweep (local Ray, Optuna grid, Parquet recorder) of small Attention-56 trials on
digits, one CPU each, and prints JSON with ratio = sweep wall time / (sum of the trials' training
time / concurrency), training time being the epochs' own time (epochs.parquet). 1.0 would be a
sweep that costs nothing beyond training; the rest is Ray, process start (once per worker: trials
reuse worker processes), Keras build, evaluation and checkpoints; the first epoch's compilation
counts as training. Trials' wall times give a second ratio for comparison. Measures whatever
ran_core.train is on the branch.
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from ran_core.results import read_results
from ran_core.space import Study
from ran_core.sweep import run_study


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=2, help="tune so one trial takes about a minute")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument(
        "--checkpoint-every", type=float, help="the sweep's flag (seconds; 0: every epoch); default: the sweep's"
    )
    args = parser.parse_args()
    study = Study(
        "sweep_overhead",
        fixed={"model": "attention56", "dataset": "digits", "width": 0.25, "epochs": args.epochs},
        seeds=tuple(range(args.trials)),
    )
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
                *([] if args.checkpoint_every is None else ["--checkpoint-every", str(args.checkpoint_every)]),
            ],
        )
        wall = time.perf_counter() - started
        trials = read_results(Path(tmp) / "out", "trials").to_pandas()
        epochs = read_results(Path(tmp) / "out", "epochs").to_pandas()
    training = epochs["epoch_time_s"].sum() / args.concurrency
    trial_wall = trials["wall_time_s"].sum() / args.concurrency
    print(
        json.dumps(
            {
                "exit_status": status,
                "checkpoint_every": args.checkpoint_every,
                "trials": len(trials),
                "concurrency": args.concurrency,
                "mean_trial_wall_s": round(trials["wall_time_s"].mean(), 1),
                "sweep_wall_s": round(wall, 1),
                "training_over_concurrency_s": round(training, 1),
                "ratio_to_training": round(wall / training, 3),
                "trial_wall_over_concurrency_s": round(trial_wall, 1),
                "ratio_to_trial_wall": round(wall / trial_wall, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
