"""A study's command line (ran_core.sweep.flags), resolved once into a frozen `SweepConfig` before
Ray starts.

A bad flag raises ValueError with one line that says what was received and what is allowed;
`run_study` turns it into exit status 2 with nothing written. Each SweepConfig field declares
its role once: RESULT fields change what the trials compute or which trials run (a resumed
experiment must keep them, and every experiment records them); RUNTIME fields say where and how
it runs (address, storage, resources, retries), and a resume may change them.
"""

import dataclasses
import importlib.util
import math
import os
import sys
from pathlib import Path

from ran_core.sweep import experiments
from ran_core.sweep.flags import ASHA_DEFAULTS, ASHA_FLAGS, FLAG_RANGES, READS_DATA_DIR, parser
from ran_core.sweep.space import Study

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
