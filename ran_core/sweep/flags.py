"""A study's command line: every flag, its help text and its allowed values.

`ran_core.sweep.config.configure` parses these into a frozen `SweepConfig` before Ray starts; a
bad flag raises ValueError with one line that says what was received and what is allowed.
"""

import argparse

from ran_core.sweep import experiments

# Integer flags: (lowest, highest) accepted; None: no upper bound beyond the study's own.
FLAG_RANGES = {
    "num_samples": (1, 100_000),
    "seeds": (1, 1000),
    "max_concurrent": (1, 100_000),
    "max_failures": (0, 100),
    "reduction_factor": (2, 100),
    "grace_period": (1, None),
}
READS_DATA_DIR = ("cifar10", "cifar100")
SCHEDULERS = ("asha", "asha-stopping", "fifo")
# Metrics every epoch reports (val_*: with a validation split); lower is better. A study that selects on
# a validation split never ranks on the test set.
RANK_BY = ("train_loss", "val_loss", "val_error", "test_loss", "test_error")
# Each ASHA's defaults: (grace period as a share of the epoch budget, reduction factor), chosen by
# replaying real learning curves (benchmarks/asha_replay.py; docs/early-stopping.md).
ASHA_DEFAULTS = {"asha": (1 / 18, 5), "asha-stopping": (1 / 6, 3)}
ASHA_FLAGS = ("grace_period", "reduction_factor", "rank_by")


class _OneLineParser(argparse.ArgumentParser):
    """Bad flags raise ValueError (one line, exit 2 from run_study) instead of printing usage."""

    def error(self, message):
        raise ValueError(f"{message} (see --help)")


def parser(presets):
    """Every flag of a study script (`python sweeps/<study>.py --help`)."""
    p = _OneLineParser(description=__doc__.splitlines()[0])
    _study_flags(p, presets)
    _scheduler_flags(p)
    _placement_flags(p)
    return p


def _study_flags(p, presets):
    """What the study trains: preset, data, budget, size."""
    p.add_argument(
        "--preset",
        choices=sorted(presets),
        default="smoke",
        help="smoke: small models on offline digits, minutes on a laptop; paper: the full study",
    )
    p.add_argument("--dataset", help="replace the preset's dataset(s): cifar10, cifar100, digits, synthetic")
    p.add_argument("--data-dir", help="local copy of CIFAR (folder or .tar.gz); never downloads when given")
    p.add_argument("--num-samples", type=int, help="trials of a search study (grid studies run every cell)")
    p.add_argument("--seeds", type=int, help="seeds per grid cell (0, 1, ..., N-1)")
    p.add_argument("--epochs", type=int, help="replace the preset's epoch budget")
    p.add_argument("--width", type=float, help="replace the preset's channel multiplier (1.0 = paper widths)")
    p.add_argument("--batch-size", type=int, help="replace the recipe's batch size (default: the dataset's recipe)")
    p.add_argument("--learning-rate", type=float, help="replace the recipe's initial learning rate")
    p.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        help="pad-crop-flip augmentation on or off (default: the dataset's recipe: on for CIFAR, off for digits)",
    )
    p.add_argument(
        "--validation-share",
        type=float,
        help="hold out this share of each class's training images (clean labels) and select on it: a search's "
        "preset holds out 0.1 and needs one; a grid keeps the paper's protocol (0: every image trains) unless given",
    )
    p.add_argument(
        "--backend",
        choices=["tensorflow", "jax"],
        help="Keras backend of the trials (default: KERAS_BACKEND or tensorflow)",
    )


def _scheduler_flags(p):
    """Early stopping: which scheduler, its rungs and what they compare."""
    p.add_argument(
        "--scheduler",
        choices=SCHEDULERS,
        help="asha: trials wait at each rung and the top 1/N go on; asha-stopping: Tune's ASHA, which "
        "decides when a trial arrives and never pauses one; fifo: no early stopping "
        "(default: asha for searches, fifo for grids)",
    )
    p.add_argument(
        "--grace-period",
        type=int,
        help="ASHA: epochs before a trial can be stopped (default: asha an 18th of the budget, "
        "asha-stopping a sixth; docs/early-stopping.md)",
    )
    p.add_argument(
        "--reduction-factor",
        type=int,
        help="ASHA: keep 1/N of the trials at each rung (default: asha 5, asha-stopping 3)",
    )
    p.add_argument(
        "--rank-by",
        choices=RANK_BY,
        help="ASHA: the metric its rungs compare (default: train_loss, which ranks trials after a few "
        "epochs by their final test error better than the test set does; docs/early-stopping.md)",
    )


def _placement_flags(p):
    """Where and how the study runs: resources, retries, checkpoints, cluster, storage, resume."""
    p.add_argument("--cpus-per-trial", type=float, default=1.0)
    p.add_argument(
        "--gpus-per-trial",
        type=float,
        help="fractions share a card between trials (default: 1 where the cluster has GPUs, else 0)",
    )
    p.add_argument("--max-concurrent", type=int, help="default: as many trials as the cluster's resources fit")
    p.add_argument("--max-failures", type=int, default=1, help="retries of a failed trial from its checkpoint")
    p.add_argument(
        "--checkpoint-every",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="a trial checkpoints at its last epoch, at each ASHA rung, and otherwise once this many "
        "seconds have passed since its last checkpoint (0: every epoch); a retry repeats at most "
        "that long plus one epoch (default: 60)",
    )
    p.add_argument("--address", help="join an existing Ray cluster (e.g. auto); default: start a local Ray")
    p.add_argument(
        "--storage",
        help="Ray storage path or URI (s3://, gs://, NFS path) for checkpoints; default: RAN_STORAGE or ~/ray_results",
    )
    p.add_argument(
        "--resume",
        nargs="?",
        const=experiments.LATEST_NAME,
        metavar="NAME",
        help="continue an interrupted experiment of --output: the latest, or NAME (see "
        "OUTPUT/experiments/); flags that change results must stay as recorded",
    )
    p.add_argument("--output", help="result folder (default: results/<study>)")
    p.add_argument("--no-dashboard", action="store_true", help="start the local Ray without its dashboard")
    p.add_argument("--no-report", action="store_true", help="do not write the report when the study ends")
    p.add_argument("-v", "--verbose", action="store_true", help="show Ray's, Tune's and Optuna's own log lines")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the trials, epochs and images the study would run and its estimated cost in device-hours, "
        "then exit: no Ray, nothing written",
    )
    p.add_argument(
        "--img-per-s",
        type=float,
        help="with --dry-run: price the study at this many training images per second (the target "
        "accelerator's figure) instead of measuring each architecture on this machine",
    )
