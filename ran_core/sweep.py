"""The sweep runner every study script uses: flags, Optuna searcher, ASHA, Tuner, Parquet.

    study = Study("noise_robustness", grid={...}, fixed={...})
    sys.exit(run_study({"smoke": smoke_study, "paper": paper_study}, argv))

Flags, the result folder, the storage location and local resources are checked (and the data
loaded) before Ray starts; a bad one exits with status 2 and writes nothing. One sweep at a time
writes to a result folder (a lock in it). The script exits 1 if any trial errored, and 130/143
after Ctrl-C/SIGTERM, each after writing every row it has and printing the summary.
"""

import argparse
import importlib.util
import math
import os
import sys
from pathlib import Path

from ran_core import experiments, interrupts, preflight
from ran_core.lock import lock_output
from ran_core.space import Study

EXIT_BAD_INPUT, EXIT_TRIAL_ERRORS = 2, 1
METRIC, MODE, TIME_ATTR = "test_error", "min", "epoch"
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


def datasets_of(study):
    """Every dataset the study can touch: loaded once here, shared with trials via the object store."""
    from ran_core.data import load_dataset

    names = study.grid.get("dataset") or study.search.get("dataset") or [study.fixed.get("dataset", "cifar10")]
    datasets = [load_dataset(name, study.fixed.get("data_dir")) for name in names]
    return {data.name: data for data in datasets}


def trial_env(args):
    """Environment of trial processes: the Keras backend, GPU memory sharing and JAX's persistent
    compilation cache (a folder on each node, `$RAN_COMPILE_CACHE` or the temp folder's
    `ran_jax_cache`; set it empty to turn the cache off), so trials that share a model and input
    shape compile it once per node."""
    import tempfile

    env = {"KERAS_BACKEND": args.backend, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    cache = os.environ.get("RAN_COMPILE_CACHE", os.path.join(tempfile.gettempdir(), "ran_jax_cache"))
    if cache:  # every program, also the small ones weight initialisation compiles (seconds in all)
        env.update(JAX_COMPILATION_CACHE_DIR=cache, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    if 0 < (args.gpus_per_trial or 0) < 1:  # several trials share one card: take memory as needed
        env.update(
            TF_FORCE_GPU_ALLOW_GROWTH="true",
            XLA_PYTHON_CLIENT_PREALLOCATE="false",
            XLA_PYTHON_CLIENT_MEM_FRACTION=f"{0.9 * args.gpus_per_trial:.2f}",
        )
    for name in ("RAN_FAIL_TRIAL_IF",):  # fault injection for tests travels to the trials
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def trainable_for(args, datasets):
    from ray import tune

    from ran_core.schedulers import asha_rungs
    from ran_core.trainable import CheckpointPolicy, run_trial

    rungs = asha_rungs(args.grace_period, args.reduction_factor, args.epochs) if args.scheduler in ASHA_DEFAULTS else ()
    policy = CheckpointPolicy(every_s=args.checkpoint_every, epochs=frozenset(rungs))
    return tune.with_resources(
        tune.with_parameters(run_trial, datasets=datasets, checkpoint_policy=policy),
        {"cpu": args.cpus_per_trial, "gpu": args.gpus_per_trial},
    )


def optuna_storage(path):
    """The study's SQLite file in write-ahead-log mode without a sync per commit: Optuna commits
    once per suggested parameter and reported epoch, and with SQLite's defaults those commits took
    ~40% of the driver's time (py-spy, benchmarks/driver_scale.py tuner). A killed driver loses
    nothing (the log is in the OS cache); a power cut may lose the last commits, never the file."""
    import optuna
    import sqlalchemy

    storage = optuna.storages.RDBStorage(f"sqlite:///{path}")

    @sqlalchemy.event.listens_for(storage.engine, "connect")
    def _fast_commits(connection, _record):
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")

    storage.engine.dispose()  # pooled connections opened before the listener get it on reopening
    return storage


def sampler_for(study, args):
    """Optuna's sampler: every grid cell (exhaustive studies) or TPE over the newest 1,000 trials
    (searches; a suggestion's cost stops growing there, docs/scaling.md)."""
    import optuna

    from ran_core.recent_tpe import RecentTPESampler

    if study.exhaustive:
        return optuna.samplers.GridSampler(study.grid_space(), seed=0)
    return RecentTPESampler(window=1000, seed=study.seeds[0], n_startup_trials=max(4, args.max_concurrent))


def build_tuner(study, args, datasets, experiment, trainable=None, callbacks=()):
    """The Tuner: Optuna (grid or TPE) under a concurrency limit, an ASHA or FIFO, Parquet callback.
    `trainable` and extra `callbacks` are for benchmarks (default: run_trial on `datasets`)."""
    from ray import tune

    from ran_core.optuna_glue import PruningOptunaSearch
    from ran_core.recorder import ResultRecorder
    from ran_core.schedulers import (
        LiveASHAScheduler,
        LiveFIFOScheduler,
        PromotingASHAScheduler,
        WaitingAwareLimiter,
    )

    sampler = sampler_for(study, args)
    storage = optuna_storage(Path(args.output) / preflight.OPTUNA_DB)
    searcher = PruningOptunaSearch(
        study.define_by_run,
        metric=METRIC,
        mode=MODE,
        sampler=sampler,
        storage=storage,
        study_name=experiment,
        max_t=args.epochs,
        time_attr=TIME_ATTR,
    )
    max_concurrent = args.max_concurrent
    if args.scheduler == "fifo":
        scheduler = LiveFIFOScheduler()
    else:
        rungs = {
            "time_attr": TIME_ATTR,
            "metric": args.rank_by,
            "mode": "min",
            "max_t": args.epochs,
            "grace_period": args.grace_period,
            "reduction_factor": args.reduction_factor,
        }
        if args.scheduler == "asha":
            scheduler = PromotingASHAScheduler(
                **rungs, num_samples=args.num_samples, max_concurrent=args.max_concurrent
            )
            searcher, max_concurrent = WaitingAwareLimiter(searcher, args.max_concurrent, scheduler), None
        else:
            scheduler = LiveASHAScheduler(**rungs)
    # reuse_actors: a finished trial's worker process (TensorFlow/JAX imported, data in memory, its
    # compiled models: ran_core.model_cache, which resets every state a run has) runs the next trial.
    tune_config = tune.TuneConfig(
        search_alg=searcher,
        scheduler=scheduler,
        metric=METRIC,
        mode=MODE,
        num_samples=args.num_samples,
        max_concurrent_trials=max_concurrent,
        reuse_actors=True,
    )
    run_config = tune.RunConfig(
        name=experiment,
        storage_path=args.storage,
        verbose=0,
        callbacks=[ResultRecorder(args.output, experiment, study.name), *callbacks],
        failure_config=tune.FailureConfig(max_failures=args.max_failures),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
    )
    return tune.Tuner(trainable or trainable_for(args, datasets), tune_config=tune_config, run_config=run_config)


def optuna_url(output):
    return f"sqlite:///{Path(output) / preflight.OPTUNA_DB}"


def run_study(presets, argv=None):
    """Runs one study from the command line; returns the process exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        study, args = configure(presets, argv)
        preflight.check_output(args.output)
        preflight.check_storage(args.storage)
        if not args.address:
            preflight.check_local_resources(args.cpus_per_trial, args.gpus_per_trial)
        datasets = datasets_of(study)
        if args.resume:
            path = f"{args.storage.rstrip('/')}/{args.experiment}"
            from ray import tune

            if not tune.Tuner.can_restore(path):
                raise ValueError(f"--resume: no restorable experiment at {path}")
        Path(args.output).mkdir(parents=True, exist_ok=True)  # every check passed: the first write
        lock = lock_output(args.output)  # noqa: F841 - held until the process ends
        if not args.resume:
            args.experiment = experiments.new_name(study.name, args.preset)
            _claim_optuna_study(args.output, args.experiment)
    except ValueError as error:  # DatasetError and OutputLocked included
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.address:  # a local Ray listens on 127.0.0.1 only (read when ray is imported)
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    with interrupts.caught() as interrupt:
        try:
            return _run(study, args, datasets, argv, interrupt)
        except KeyboardInterrupt:  # before Tune started, or a second signal
            print(
                f"interrupted by {interrupt.name or 'KeyboardInterrupt'} before the sweep could record its "
                f"trials; resume with --resume {args.experiment}",
                file=sys.stderr,
                flush=True,
            )
            return interrupt.exit_status if interrupt.signum else 130


def _claim_optuna_study(output, name):
    """Creates the experiment's Optuna study; a fresh run never joins an existing one."""
    import optuna

    try:
        optuna.create_study(study_name=name, storage=optuna_url(output), direction="minimize")
    except optuna.exceptions.DuplicatedStudyError:
        raise ValueError(f"Optuna study {name!r} already exists in {output}/{preflight.OPTUNA_DB}") from None


def _run(study, args, datasets, argv, interrupt):
    import ray
    from ray import tune

    from ran_core.optuna_glue import fail_unfinished
    from ran_core.recorder import ResultRecorder

    experiment = args.experiment
    context = ray.init(
        address=args.address or "local",
        runtime_env={"env_vars": trial_env(args)},
        include_dashboard=None if args.address else not args.no_dashboard,
        log_to_driver=False,
    )  # trial output stays in Ray's logs; errors are summarised
    interrupt.install()  # ray.init replaced the SIGTERM handler with one that exits at once
    try:
        resources = ray.cluster_resources()
        if args.gpus_per_trial is None:  # auto: a whole card per trial where the cluster has cards
            args.gpus_per_trial = 1.0 if resources.get("GPU", 0) >= 1 else 0.0
        args.max_concurrent = args.max_concurrent or _fitting_trials(resources, args)
        if context.dashboard_url:
            print(f"Ray dashboard: http://{context.dashboard_url}", flush=True)
        print(
            f"{study.name} ({args.preset}): {_describe_size(study, args)}; results -> {args.output} "
            f"(experiment {experiment})",
            flush=True,
        )
        if args.resume:
            # Errored trials stay errored (FailureConfig already retried them); unfinished ones resume.
            tuner = tune.Tuner.restore(
                f"{args.storage.rstrip('/')}/{experiment}",
                trainable=trainable_for(args, datasets),
                resume_unfinished=True,
            )
        else:
            tuner = build_tuner(study, args, datasets, experiment)
            experiments.record(args.output, experiment, args.storage, study.name, argv, args.result_flags)
        grid = tuner.fit()
        unfinished = fail_unfinished(optuna_url(args.output), experiment) if interrupt.signum else set()
        summary = reconcile(grid, ResultRecorder(args.output, experiment, study.name), unfinished)
    finally:
        ray.shutdown()
    print(summary["text"], flush=True)
    if interrupt.signum:
        print(
            f"interrupted by {interrupt.name}: {len(unfinished)} unfinished trial(s) recorded as interrupted; "
            f"continue with: {Path(sys.argv[0]).name} --output {args.output} --resume {experiment}",
            flush=True,
        )
        return interrupt.exit_status
    return EXIT_TRIAL_ERRORS if summary["errored"] else 0


def reconcile(grid, recorder, interrupted=frozenset()):
    """Re-records every trial of the ResultGrid from Tune's own files and compacts the result folder:
    rows are collected first, then each file is written once (a row the callback missed, e.g. when
    the driver died, is added; one it recorded is replaced, never doubled). Trials whose ids are in
    `interrupted` were stopped by a signal before they finished."""
    from ran_core.recorder import epoch_row, exception_line

    errored, trial_rows, epoch_rows = [], [], []
    for result in grid:
        trial_id = (result.metrics or {}).get("trial_id") or _interrupted_id(result, interrupted)
        error = exception_line(str(result.error)) if result.error else None
        if error:
            errored.append((trial_id, error))
        if result.config is None:  # errored before its first report: the callback wrote its row
            continue
        frame = result.metrics_dataframe
        records = frame.to_dict("records") if frame is not None and "epoch" in frame else []
        epochs = {}
        for record in records:  # a retried trial may report an epoch twice: the later one counts
            row = epoch_row(
                recorder.experiment_id,
                recorder.study,
                trial_id,
                {k: v for k, v in record.items() if not (isinstance(v, float) and math.isnan(v))},
            )
            epochs[row["epoch"]] = row
        epochs = [epochs[epoch] for epoch in sorted(epochs)]
        epoch_rows += epochs
        trial_rows.append(
            recorder.trial_row(
                trial_id, result.config, result.metrics or {}, error, result.checkpoint, epochs, trial_id in interrupted
            )
        )
    recorder.finish(trials=trial_rows, epochs=epoch_rows)
    lines = [recorder.status_line(), f"results: {recorder.output}/trials.parquet, epochs.parquet"]
    if errored:
        lines.append(f"{len(errored)} trial(s) errored:")
        lines += [f"  {trial_id}: {error}" for trial_id, error in errored]
    return {"text": "\n".join(lines), "errored": errored}


def _interrupted_id(result, interrupted):
    """The id of a trial that never reported (its folder, `<trainable>_<trial id>`, names it)."""
    folder = Path(result.path).name
    return next((trial_id for trial_id in interrupted if trial_id in folder), folder)


def _fitting_trials(resources, args):
    fits = resources.get("CPU", 1) // args.cpus_per_trial
    if args.gpus_per_trial:
        fits = min(fits, resources.get("GPU", 0) // args.gpus_per_trial)
    return max(1, int(fits))


def _describe_size(study, args):
    if study.exhaustive:
        return (
            f"{study.num_cells()} trials (every grid cell x {len(study.seeds)} seed(s)), "
            f"{args.epochs} epochs each, {args.scheduler}, up to {args.max_concurrent} at once"
        )
    return (
        f"{args.num_samples} TPE trials of up to {args.epochs} epochs, {args.scheduler}, "
        f"up to {args.max_concurrent} at once"
    )


__all__ = ["Study", "run_study", "configure"]
