"""A study's command line, resolved once into a frozen `SweepConfig` before Ray starts.

A bad flag raises ValueError with one line that says what was received and what is allowed;
`run_study` turns it into exit status 2 with nothing written. Each SweepConfig field declares
its role once: RESULT fields change what the trials compute or which trials run (a resumed
experiment must keep them, and every experiment records them); RUNTIME fields say where and how
it runs (address, storage, resources, retries), and a resume may change them.
"""

import argparse
import dataclasses
import importlib.util
import math
import os
import sys
from pathlib import Path

from ran_core.sweep import experiments
from ran_core.sweep.space import Study

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
RESULT, RUNTIME = "result", "runtime"


def _role(role, default=None):
    return dataclasses.field(default=default, metadata={"role": role})


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """One run of a study as its flags resolve: the study with every override applied, and the
    values the runner, the Tuner and the trials read. Built once by `configure`; `on_cluster`
    fills the values that need the cluster's resources (GPUs per trial, trials at once)."""

    study: Study
    preset: str = _role(RESULT)
    dataset: str | None = _role(RESULT)  # the --dataset override as given (lower case), None: the preset's
    num_samples: int = _role(RESULT)
    seeds: int = _role(RESULT)  # seeds per grid cell
    epochs: int = _role(RESULT)
    width: float | None = _role(RESULT)
    batch_size: int | None = _role(RESULT)  # None: each dataset's recipe (space.RECIPES), as are the next two
    learning_rate: float | None = _role(RESULT)
    augment: bool | None = _role(RESULT)
    validation_share: float = _role(RESULT, 0.0)  # held out to select on (a search's preset fixes one)
    scheduler: str = _role(RESULT)
    grace_period: int | None = _role(RESULT)
    reduction_factor: int | None = _role(RESULT)
    rank_by: str | None = _role(RESULT)
    backend: str = _role(RESULT)
    data_dir: str | None = _role(RUNTIME)  # where the data lives, not what it is
    output: str = _role(RUNTIME)
    storage: str = _role(RUNTIME)
    address: str | None = _role(RUNTIME)
    resume: str | None = _role(RUNTIME)
    experiment: str | None = _role(RUNTIME)  # the resumed experiment's name; a fresh run's is set at start
    cpus_per_trial: float = _role(RUNTIME, 1.0)
    gpus_per_trial: float | None = _role(RUNTIME)  # None: one card per trial where the cluster has cards
    max_concurrent: int | None = _role(RUNTIME)  # None: what the cluster's resources fit
    max_failures: int = _role(RUNTIME, 1)
    checkpoint_every: float = _role(RUNTIME, 60.0)
    dashboard: bool = _role(RUNTIME, True)
    report: bool = _role(RUNTIME, True)  # write the report when the study ends
    verbose: bool = _role(RUNTIME, False)
    dry_run: bool = _role(RUNTIME, False)
    img_per_s: float | None = _role(RUNTIME)
    argv: tuple = _role(RUNTIME, ())

    def result_flags(self):
        """The RESULT fields as this run applies them: recorded with the experiment, compared on --resume."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.metadata.get("role") == RESULT}

    @property
    def uses_asha(self):
        return self.scheduler in ASHA_DEFAULTS

    def on_cluster(self, resources):
        """This config with the cluster-dependent values filled from `resources` (ray.cluster_resources())."""
        gpus = self.gpus_per_trial
        if gpus is None:
            gpus = 1.0 if resources.get("GPU", 0) >= 1 else 0.0
        fits = resources.get("CPU", 1) // self.cpus_per_trial
        if gpus:
            fits = min(fits, resources.get("GPU", 0) // gpus)
        return dataclasses.replace(self, gpus_per_trial=gpus, max_concurrent=self.max_concurrent or max(1, int(fits)))


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


def configure(presets, argv=None):
    """Parses and validates the flags into a SweepConfig; raises ValueError on bad input.

    With --resume the flags recorded by the run being resumed come first, so the same study is
    rebuilt; flags given now may change where and how it runs (the RUNTIME fields: a new
    --address, --storage or --max-concurrent), not its results (the RESULT fields).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    args, recorded = _parse(presets, argv)
    _check_flag_ranges(args)
    _check_resources(args)
    study = _resolved_study(presets[args.preset], args)
    epochs = study.max_epochs()
    backend = args.backend or os.environ.get("KERAS_BACKEND", "tensorflow")
    if importlib.util.find_spec(backend) is None:
        raise ValueError(
            f"--backend {backend}: the {backend} package is not installed (pip install -e '.[jax]' for JAX)"
        )
    config = SweepConfig(
        study=study,
        preset=args.preset,
        dataset=args.dataset and args.dataset.lower(),
        num_samples=study.num_cells() if study.exhaustive else args.num_samples or 16,
        seeds=len(study.seeds),
        epochs=epochs,
        width=study.fixed.get("width"),
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        augment=args.augment,
        validation_share=study.validation_share,
        **_scheduler(args, study, epochs),
        backend=backend,
        data_dir=study.fixed.get("data_dir"),
        output=str(_path_flag(args.output, "--output") or (Path("results") / study.name).resolve()),
        storage=_storage(args.storage),
        address=args.address,
        resume=args.resume,
        experiment=recorded["name"] if recorded else None,
        cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial,
        max_concurrent=args.max_concurrent,
        max_failures=args.max_failures,
        checkpoint_every=args.checkpoint_every,
        dashboard=not args.no_dashboard,
        report=not args.no_report,
        verbose=args.verbose,
        dry_run=args.dry_run,
        img_per_s=args.img_per_s,
        argv=tuple(argv),
    )
    if recorded and "flags" in recorded:
        changed = experiments.changed_result_flags(recorded["flags"], config.result_flags())
        if changed:
            raise ValueError(
                f"--resume continues {recorded['name']} as recorded; these flags would change its "
                f"results: {', '.join(changed)} (run without --resume for a new experiment)"
            )
    return config


def _parse(presets, argv):
    """The flags, with a resumed run's recorded flags first: (args, the record or None)."""
    args = parser(presets).parse_args(argv)
    if not args.resume:
        return args, None
    output = _path_flag(args.output, "--output") or (Path("results") / presets[args.preset].name).resolve()
    recorded = experiments.read(output, args.resume)
    backend = recorded.get("flags", {}).get("backend")
    merged = parser(presets).parse_args([*recorded["argv"], *(["--backend", backend] if backend else []), *argv])
    merged.output = str(output)
    merged.storage = args.storage or recorded["storage"]
    return merged, recorded


def _resolved_study(study, args):
    """The preset's study with --dataset, --epochs, --width, --seeds and --data-dir applied
    (Study.replace re-validates every value against the search space)."""
    changes, fixed = {}, dict(study.fixed)
    if args.dataset is not None:
        changes.update(
            grid={k: v for k, v in study.grid.items() if k != "dataset"},
            search={k: v for k, v in study.search.items() if k != "dataset"},
        )
        fixed["dataset"] = args.dataset.lower()
    for name in ("epochs", "width", "batch_size", "learning_rate", "augment", "validation_share"):
        value = getattr(args, name)
        if value is None:
            continue
        if name in study.grid or name in study.search:
            flag = f"--{name.replace('_', '-')}"
            raise ValueError(
                f"{flag}: {study.name} varies {name} (a grid or search dimension), so no one value can "
                f"replace it. Received: {flag} {value}"
            )
        fixed[name] = value
    if args.seeds is not None:
        if not study.exhaustive:
            raise ValueError(
                f"--seeds repeats grid cells; {study.name} is a search (TPE samples its trials). "
                f"Received: --seeds {args.seeds}"
            )
        changes["seeds"] = tuple(range(args.seeds))
    study = study.replace(**changes, fixed=fixed)
    if args.data_dir is not None:
        _check_data_dir(study, args.data_dir)
        study = study.replace(fixed={**study.fixed, "data_dir": str(Path(args.data_dir).resolve())})
    if study.exhaustive and args.num_samples not in (None, study.num_cells()):
        raise ValueError(
            f"{study.name} is a grid study of {study.num_cells()} cells (times seeds); "
            f"--num-samples does not apply. Received: --num-samples {args.num_samples}"
        )
    return study


def _scheduler(args, study, epochs):
    """scheduler, grace_period, reduction_factor and rank_by as applied (ASHA's defaults filled in)."""
    scheduler = args.scheduler or ("fifo" if study.exhaustive else "asha")
    given = {name: getattr(args, name) for name in ASHA_FLAGS}
    if scheduler not in ASHA_DEFAULTS:
        named = [f"--{name.replace('_', '-')}" for name, value in given.items() if value is not None]
        if named:
            raise ValueError(
                f"{', '.join(named)}: ASHA's flags, for --scheduler asha or asha-stopping; this run's "
                f"scheduler is {scheduler}" + (" (a grid study's default)" if args.scheduler is None else "")
            )
        return {"scheduler": scheduler, **dict.fromkeys(ASHA_FLAGS)}
    if given["grace_period"] is not None and given["grace_period"] > epochs:
        raise ValueError(f"--grace-period {given['grace_period']} exceeds the {epochs}-epoch budget")
    rank_by = given["rank_by"] or "train_loss"
    if study.validation_share and rank_by.startswith("test_"):
        raise ValueError(
            f"--rank-by {rank_by}: {study.name} selects on its validation split, so its early stopping must not "
            "look at the test set; rank by train_loss, val_loss or val_error"
        )
    if not study.validation_share and rank_by.startswith("val_"):
        raise ValueError(f"--rank-by {rank_by}: {study.name} holds out no validation split (add --validation-share)")
    share, reduction_factor = ASHA_DEFAULTS[scheduler]
    return {
        "scheduler": scheduler,
        "grace_period": given["grace_period"] or max(1, round(share * epochs)),
        "reduction_factor": given["reduction_factor"] or reduction_factor,
        "rank_by": rank_by,
    }


def _path_flag(value, flag):
    """An absolute path from a path flag; None if not given; an empty one is an error."""
    if value is None:
        return None
    if not value.strip():
        raise ValueError(f"{flag} must name a folder. Received: {flag} {value!r}")
    return Path(value).expanduser().resolve()


def _storage(value):
    """--storage as Ray takes it: a URI as given, a local path made absolute (default: RAN_STORAGE
    or ~/ray_results)."""
    if value is not None and not value.strip():
        raise ValueError(f"--storage must name a folder or a URI. Received: --storage {value!r}")
    storage = value or os.environ.get("RAN_STORAGE") or str(Path("~/ray_results").expanduser())
    return storage if "://" in storage else str(Path(storage).expanduser().resolve())


def _check_flag_ranges(args):
    for flag, (low, high) in FLAG_RANGES.items():
        value = getattr(args, flag)
        if value is not None and not (low <= value and (high is None or value <= high)):
            allowed = f">= {low}" if high is None else f"in [{low}, {high}]"
            name = f"--{flag.replace('_', '-')}"
            raise ValueError(f"{name} must be {allowed}. Received: {name} {value}")


def _check_resources(args):
    for flag in ("cpus_per_trial", "gpus_per_trial"):
        value = getattr(args, flag)
        if value is not None and (not math.isfinite(value) or value < 0 or (flag == "cpus_per_trial" and value <= 0)):
            raise ValueError(f"--{flag.replace('_', '-')} must be a positive number. Received: {value}")
    if (args.gpus_per_trial or 0) > 1 and not float(args.gpus_per_trial).is_integer():
        raise ValueError(f"--gpus-per-trial above 1 must be whole. Received: {args.gpus_per_trial}")
    if args.img_per_s is not None and not (args.dry_run and math.isfinite(args.img_per_s) and args.img_per_s > 0):
        raise ValueError(
            f"--img-per-s prices a --dry-run and must be a positive number. Received: --img-per-s {args.img_per_s}"
            + ("" if args.dry_run else " without --dry-run")
        )
    if not (math.isfinite(args.checkpoint_every) and args.checkpoint_every >= 0):
        raise ValueError(
            f"--checkpoint-every must be a number of seconds >= 0. Received: --checkpoint-every {args.checkpoint_every}"
        )


def _check_data_dir(study, data_dir):
    names = study.grid.get("dataset") or study.search.get("dataset") or [study.fixed.get("dataset", "cifar10")]
    if not set(names) & set(READS_DATA_DIR):
        raise ValueError(
            f"--data-dir is read only by {' and '.join(READS_DATA_DIR)}; this study trains on "
            f"{list(names)} (add --dataset cifar10?). Received: --data-dir {data_dir}"
        )
    if not Path(data_dir).exists():
        raise ValueError(f"--data-dir {data_dir!r} does not exist")
