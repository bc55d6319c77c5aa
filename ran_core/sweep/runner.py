"""The sweep runner every study script uses: flags, Optuna searcher, ASHA, Tuner, Parquet.

    study = Study("noise_robustness", grid={...}, fixed={...})
    sys.exit(run_study({"smoke": smoke_study, "paper": paper_study}, argv))

Flags, the result folder, the storage location and local resources are checked (and the data
loaded) before Ray starts; a bad one exits with status 2 and writes nothing. One sweep at a time
writes to a result folder (a lock in it). The script exits 1 if any trial errored, and 130/143
after Ctrl-C/SIGTERM, each after writing every row it has and printing the summary.
"""

import math
import os
import sys
from pathlib import Path

from ran_core.common.keys import OPTUNA_DB
from ran_core.sweep import experiments, interrupts, preflight
from ran_core.sweep.flags import configure
from ran_core.sweep.lock import lock_output
from ran_core.sweep.tuner import build_tuner, datasets_of, optuna_url, trainable_for, trial_env

EXIT_BAD_INPUT, EXIT_TRIAL_ERRORS = 2, 1


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
        raise ValueError(f"Optuna study {name!r} already exists in {output}/{OPTUNA_DB}") from None


def _run(study, args, datasets, argv, interrupt):
    import ray
    from ray import tune

    from ran_core.sweep.optuna_glue import fail_unfinished
    from ran_core.sweep.recorder import ResultRecorder

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
    from ran_core.sweep.recorder import epoch_row, exception_line

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
