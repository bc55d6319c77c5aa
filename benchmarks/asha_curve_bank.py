"""Learning-curve bank for the scheduler replay: a real grid sweep run to the full budget on digits.

    python benchmarks/asha_curve_bank.py                 # 64 configurations x 18 epochs
    python benchmarks/asha_curve_bank.py --seed 1        # another draw: asha_curve_bank_seed1.parquet

The project's own sweep (run_study: Optuna grid, FIFO so no trial is stopped, the Parquet
recorder) trains every configuration of model x width x label noise x learning rate x weight
decay (2 x 2 x 2 x 4 x 2 = 64) with the smoke recipe (digits 16x16, batch 32, no augmentation,
Nesterov SGD) at widths 1/16 and 1/8 for 18 epochs, the learning rate divided by 10 at 50% and
75% of the budget, so the late drops that reorder curves happen where a full run has them. Writes
one row per configuration and epoch (the config columns, `epoch`, `test_error`, `test_loss`,
`train_loss`, `epoch_time_s`); `benchmarks/asha_replay.py` replays Tune's schedulers over it
(`--rank-by` picks the column they decide on). Trials of one architecture reuse
its compiled model, so the whole bank took 19 minutes on two cores (1167 s, quiet machine).
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from ran_core.results import read_results, write_table
from ran_core.sweep.runner import run_study
from ran_core.sweep.space import Study

BANK = Path(__file__).with_name("asha_curve_bank.parquet")
GRID = {
    "model": ["attention56", "resnet56"],
    "noise_ratio": [0.0, 0.3],
    "learning_rate": [0.01, 0.03, 0.1, 0.3],
    "weight_decay": [1e-5, 1e-3],
}
FIXED = {"dataset": "digits", "batch_size": 32, "augment": False, "lr_drops": (0.5, 0.75)}
CONFIG = ("model", "width", *(name for name in GRID if name != "model"))
CURVE_COLUMNS = ("test_error", "test_loss", "train_loss", "epoch_time_s")


def bank_from(folder):
    """One row per epoch of every trial in a sweep's result folder that ran its whole budget."""
    trials = read_results(folder, "trials").to_pandas()
    epochs = read_results(folder, "epochs").to_pandas()
    done = trials[trials["status"] == "completed"]
    curve = ["epoch", *CURVE_COLUMNS]
    bank = epochs[["trial_id", *curve]].merge(done[["trial_id", *CONFIG]], on="trial_id")
    return bank[["trial_id", *CONFIG, *curve]].sort_values(["trial_id", "epoch"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=18, help="the full budget every configuration runs")
    parser.add_argument("--widths", type=float, nargs="+", default=[1 / 16, 1 / 8])
    parser.add_argument("--max-concurrent", type=int, default=2)
    parser.add_argument("--backend", default="tensorflow", choices=["tensorflow", "jax"])
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of every trial (weights, noise, shuffling); default 0"
    )
    parser.add_argument("--out", help="default: asha_curve_bank.parquet, or asha_curve_bank_seed<N>.parquet")
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error(f"--seed must be a non-negative integer. Received: {args.seed}")
    args.out = args.out or str(BANK if args.seed == 0 else BANK.with_name(f"{BANK.stem}_seed{args.seed}.parquet"))
    study = Study(
        "asha_curve_bank",
        grid={**GRID, "width": args.widths},
        fixed={**FIXED, "epochs": args.epochs},
        seeds=(args.seed,),
    )
    with tempfile.TemporaryDirectory(prefix="ran_bank_") as tmp:
        started = time.perf_counter()
        status = run_study(
            {"smoke": study},
            [
                "--no-dashboard",
                "--scheduler",
                "fifo",
                "--output",
                f"{tmp}/out",
                "--storage",
                f"{tmp}/storage",
                "--backend",
                args.backend,
                "--max-concurrent",
                str(args.max_concurrent),
            ],
        )
        wall = time.perf_counter() - started
        bank = bank_from(f"{tmp}/out")
    configs = bank["trial_id"].nunique()
    if status != 0 or configs < study.num_cells():
        print(
            f"error: only {configs} of {study.num_cells()} configurations ran their whole budget "
            f"(sweep exit status {status}); nothing written",
            file=sys.stderr,
        )
        return 1
    write_table(pa.Table.from_pandas(bank, preserve_index=False), args.out)
    print(
        f"{configs} configurations x {args.epochs} epochs -> {args.out}; sweep wall time {wall:.0f} s, "
        f"epochs' own time {bank['epoch_time_s'].sum():.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
