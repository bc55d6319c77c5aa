"""A study's command line: every flag parsed, validated and resolved before Ray starts.

A bad flag raises ValueError with one line that says what was received and what is allowed;
`run_study` turns it into exit status 2 with nothing written. With `--resume`, the recorded run's
flags come first and the flags that change results must stay as recorded.
"""

import argparse
import importlib.util
import math
import os
import sys
from pathlib import Path

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
RANK_BY = ("train_loss", "test_loss", "test_error")  # metrics every epoch reports; lower is better
# Each ASHA's defaults: (grace period as a share of the epoch budget, reduction factor), chosen by
# replaying real learning curves (benchmarks/asha_replay.py; README, Early stopping).
ASHA_DEFAULTS = {"asha": (1 / 18, 5), "asha-stopping": (1 / 6, 3)}
ASHA_FLAGS = ("grace_period", "reduction_factor", "rank_by")


class _OneLineParser(argparse.ArgumentParser):
    """Bad flags raise ValueError (one line, exit 2 from run_study) instead of printing usage."""

    def error(self, message):
        raise ValueError(f"{message} (see --help)")


def parser(presets):
    p = _OneLineParser(description=__doc__.splitlines()[0])
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
        "asha-stopping a sixth; README, Early stopping)",
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
        "epochs by their final test error better than the test set does; README, Early stopping)",
    )
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
    p.add_argument(
        "--backend",
        choices=["tensorflow", "jax"],
        help="Keras backend of the trials (default: KERAS_BACKEND or tensorflow)",
    )
    p.add_argument("--no-dashboard", action="store_true", help="start the local Ray without its dashboard")
    return p


def configure(presets, argv=None):
    """Parses and validates the flags into (study, args); raises ValueError on bad input.

    With --resume the flags recorded by the run being resumed come first, so the same study is
    rebuilt; flags given now may change where and how it runs (e.g. a new --address, --storage or
    --max-concurrent), not its results (experiments.RESULT_FLAGS).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser(presets).parse_args(argv)
    output = Path(args.output or Path("results") / presets[args.preset].name).resolve()
    recorded = None
    if args.resume:
        recorded = experiments.read(output, args.resume)
        backend = recorded.get("flags", {}).get("backend")
        args = parser(presets).parse_args([*recorded["argv"], *(["--backend", backend] if backend else []), *argv])
        args.storage = parser(presets).parse_args(argv).storage or recorded["storage"]
        args.experiment = recorded["name"]
    study = presets[args.preset]
    changes, fixed = {}, dict(study.fixed)
    if args.dataset is not None:
        changes.update(
            grid={k: v for k, v in study.grid.items() if k != "dataset"},
            search={k: v for k, v in study.search.items() if k != "dataset"},
        )
        fixed["dataset"] = args.dataset.lower()
    for name in ("epochs", "width"):
        if getattr(args, name) is not None:
            fixed[name] = getattr(args, name)
    _check_flag_ranges(args)
    if args.seeds is not None:
        if not study.exhaustive:
            raise ValueError(
                f"--seeds repeats grid cells; {study.name} is a search (TPE samples its trials). "
                f"Received: --seeds {args.seeds}"
            )
        changes["seeds"] = tuple(range(args.seeds))
    study = study.replace(**changes, fixed=fixed)  # re-validates every value against SPACE
    if args.data_dir is not None:
        _check_data_dir(study, args.data_dir)
        study = study.replace(fixed={**study.fixed, "data_dir": str(Path(args.data_dir).resolve())})
    if study.exhaustive and args.num_samples not in (None, study.num_cells()):
        raise ValueError(
            f"{study.name} is a grid study of {study.num_cells()} cells (times seeds); "
            f"--num-samples does not apply. Received: --num-samples {args.num_samples}"
        )
    for flag in ("cpus_per_trial", "gpus_per_trial"):
        value = getattr(args, flag)
        if value is not None and (not math.isfinite(value) or value < 0 or (flag == "cpus_per_trial" and value <= 0)):
            raise ValueError(f"--{flag.replace('_', '-')} must be a positive number. Received: {value}")
    if not (math.isfinite(args.checkpoint_every) and args.checkpoint_every >= 0):
        raise ValueError(
            f"--checkpoint-every must be a number of seconds >= 0. Received: --checkpoint-every {args.checkpoint_every}"
        )
    if (args.gpus_per_trial or 0) > 1 and not float(args.gpus_per_trial).is_integer():
        raise ValueError(f"--gpus-per-trial above 1 must be whole. Received: {args.gpus_per_trial}")
    args.epochs = study.max_epochs()
    if args.grace_period is not None and args.grace_period > args.epochs:
        raise ValueError(f"--grace-period {args.grace_period} exceeds the {args.epochs}-epoch budget")
    args.backend = args.backend or os.environ.get("KERAS_BACKEND", "tensorflow")
    if importlib.util.find_spec(args.backend) is None:
        raise ValueError(
            f"--backend {args.backend}: the {args.backend} package is not installed (pip install -e '.[jax]' for JAX)"
        )
    args.output = str(output)
    args.storage = args.storage or os.environ.get("RAN_STORAGE") or str(Path("~/ray_results").expanduser())
    if "://" not in args.storage:
        args.storage = str(Path(args.storage).resolve())
    args.scheduler = args.scheduler or ("fifo" if study.exhaustive else "asha")
    if args.scheduler in ASHA_DEFAULTS:
        share, reduction_factor = ASHA_DEFAULTS[args.scheduler]
        args.grace_period = args.grace_period or max(1, round(share * args.epochs))
        args.reduction_factor = args.reduction_factor or reduction_factor
        args.rank_by = args.rank_by or "train_loss"
    else:
        given = [f"--{name.replace('_', '-')}" for name in ASHA_FLAGS if getattr(args, name) is not None]
        if given:
            raise ValueError(
                f"{', '.join(given)}: ASHA's flags, for --scheduler asha or asha-stopping; this run's "
                f"scheduler is fifo (a grid study's default)"
            )
    args.num_samples = study.num_cells() if study.exhaustive else args.num_samples or 16
    args.result_flags = result_flags(study, args)
    if recorded and "flags" in recorded:
        changed = experiments.changed_result_flags(recorded["flags"], args.result_flags)
        if changed:
            raise ValueError(
                f"--resume continues {recorded['name']} as recorded; these flags would change its "
                f"results: {', '.join(changed)} (run without --resume for a new experiment)"
            )
    return study, args


def _check_flag_ranges(args):
    for flag, (low, high) in FLAG_RANGES.items():
        value = getattr(args, flag)
        if value is not None and not (low <= value and (high is None or value <= high)):
            allowed = f">= {low}" if high is None else f"in [{low}, {high}]"
            name = f"--{flag.replace('_', '-')}"
            raise ValueError(f"{name} must be {allowed}. Received: {name} {value}")


def _check_data_dir(study, data_dir):
    names = study.grid.get("dataset") or study.search.get("dataset") or [study.fixed.get("dataset", "cifar10")]
    if not set(names) & set(READS_DATA_DIR):
        raise ValueError(
            f"--data-dir is read only by {' and '.join(READS_DATA_DIR)}; this study trains on "
            f"{list(names)} (add --dataset cifar10?). Received: --data-dir {data_dir}"
        )
    if not Path(data_dir).exists():
        raise ValueError(f"--data-dir {data_dir!r} does not exist")


def result_flags(study, args):
    """The values of experiments.RESULT_FLAGS as this run applies them (recorded; --resume compares)."""
    return {
        "preset": args.preset,
        "dataset": args.dataset and args.dataset.lower(),
        "data_dir": study.fixed.get("data_dir"),
        "num_samples": args.num_samples,
        "seeds": len(study.seeds),
        "epochs": args.epochs,
        "width": study.fixed.get("width"),
        "scheduler": args.scheduler,
        "grace_period": args.grace_period,
        "reduction_factor": args.reduction_factor,
        "rank_by": args.rank_by,
        "backend": args.backend,
    }
