"""The sweep runner every study script uses: flags, Optuna searcher, ASHA, Tuner, Parquet.

    study = Study("noise_robustness", grid={...}, fixed={...})
    sys.exit(run_study({"smoke": smoke_study, "paper": paper_study}, argv))

Flags, the result folder, the storage location and local resources are checked (and the data
loaded) before Ray starts; a bad one exits with status 2 and writes nothing. One sweep at a time
writes to a result folder (a lock in it). The script exits 1 if any trial errored, and 130/143
after Ctrl-C/SIGTERM, each after writing every row it has and printing the summary.
"""

import dataclasses
import math
import os
import shlex
import sys
from pathlib import Path

from ran_core.common.keys import OPTUNA_DB
from ran_core.results.store import remove_stale_temp_files
from ran_core.sweep import experiments, interrupts, preflight
from ran_core.sweep.config import configure
from ran_core.sweep.console import quiet_libraries
from ran_core.sweep.lock import lock_output
from ran_core.sweep.tuner import build_tuner, datasets_of, metric_for, optuna_url, trainable_for, trial_env

EXIT_BAD_INPUT, EXIT_TRIAL_ERRORS = 2, 1


def run_study(presets, argv=None):
    """Runs one study from the command line; returns the process exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        config = configure(presets, argv)
        quiet_libraries(config.verbose)
        if config.dry_run:
            from ran_core.sweep.plan import describe

            print(describe(config, config.img_per_s), flush=True)
            return 0
        preflight.check_output(config.output, config.experiment if config.resume else None)
        preflight.check_storage(config.storage)
        if not config.address:
            preflight.check_local_resources(config.cpus_per_trial, config.gpus_per_trial)
        datasets = datasets_of(config.study)
        if config.resume:
            path = f"{config.storage.rstrip('/')}/{config.experiment}"
            from ray import tune

            if not tune.Tuner.can_restore(path):
                raise ValueError(f"--resume: no restorable experiment at {path}")
        Path(config.output).mkdir(parents=True, exist_ok=True)  # every check passed: the first write
        lock = lock_output(config.output)  # noqa: F841 - held until the process ends
        remove_stale_temp_files(config.output)  # a killed writer's; the lock says none is live
        if not config.resume:
            config = dataclasses.replace(config, experiment=experiments.new_name(config.study.name, config.preset))
            _claim_optuna_study(config.output, config.experiment)
    except ValueError as error:  # DatasetError and OutputLocked included
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not config.address:  # a local Ray listens on 127.0.0.1 only (read when ray is imported)
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    with interrupts.caught() as interrupt:
        try:
            return _run(config, datasets, interrupt)
        except KeyboardInterrupt:  # before Tune started, or a second signal
            print(
                f"interrupted by {interrupt.name or 'KeyboardInterrupt'} before the sweep could record its "
                f"trials; resume with: {resume_command(config)}",
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


def _run(config, datasets, interrupt):
    import ray
    from ray import tune

    from ran_core.sweep.optuna_glue import fail_unfinished
    from ran_core.sweep.recorder import ResultRecorder

    context = ray.init(
        address=config.address or "local",
        runtime_env={"env_vars": trial_env(config)},
        include_dashboard=None if config.address else config.dashboard,
        log_to_driver=False,
        logging_level=quiet_libraries(config.verbose),
    )  # trial output stays in Ray's logs; errors are summarised
    interrupt.install()  # ray.init replaced the SIGTERM handler with one that exits at once
    try:
        config = config.on_cluster(ray.cluster_resources())
        if context.dashboard_url:
            print(f"Ray dashboard: http://{context.dashboard_url}", flush=True)
        print(
            f"{config.study.name} ({config.preset}): {_describe_size(config)}; results -> {config.output} "
            f"(experiment {config.experiment})",
            flush=True,
        )
        for line in config.study.recipe_lines():
            print(f"  {line}", flush=True)
        if config.resume:
            # Errored trials stay errored (FailureConfig already retried them); unfinished ones resume.
            tuner = tune.Tuner.restore(
                f"{config.storage.rstrip('/')}/{config.experiment}",
                trainable=trainable_for(config, datasets),
                resume_unfinished=True,
            )
        else:
            tuner = build_tuner(config, datasets)
            experiments.record(
                config.output, config.experiment, config.storage, config.study.name, config.argv, config.result_flags()
            )
        grid = tuner.fit()
        unfinished = fail_unfinished(optuna_url(config.output), config.experiment) if interrupt.signum else set()
        recorder = ResultRecorder(
            config.output, config.experiment, config.study.name, select_by=metric_for(config.study)
        )
        summary = reconcile(grid, recorder, unfinished)
    finally:
        ray.shutdown()
    print(summary["text"], flush=True)
    if interrupt.signum:
        print(
            f"interrupted by {interrupt.name}: {len(unfinished)} unfinished trial(s) recorded as interrupted; "
            f"continue with: {resume_command(config)}",
            flush=True,
        )
        return interrupt.exit_status
    if config.report:
        print(report_at_end(config), flush=True)
    return EXIT_TRIAL_ERRORS if summary["errored"] else 0


def report_at_end(config):
    """Writes the study's report (figures and report.md under <output>/report/) and returns what to
    print: the scorecard's rows for this study, where the report is, and how to make it again."""
    from ran_core import analysis
    from ran_core.analysis import report, scorecard

    again = f"python -m ran_core.analysis {shlex.quote(config.output)}"
    try:
        path = report.build_report(config.output)
        scores = scorecard.score_claims(analysis.load_results(config.output))
    except Exception as error:  # noqa: BLE001 - the results are safe; the report can be made later
        return f"the report could not be written ({type(error).__name__}: {error}); make it with: {again}"
    rows = scores[scores["study"] == config.study.name].to_dict("records")
    lines = ["paper claims (95% intervals, percentage points; report.md explains the rule):"] if rows else []
    for r in rows:
        interval = f"{r['effect_pp']:+.2f} [{r['low_pp']:+.2f}, {r['high_pp']:+.2f}]"
        lines.append(f"  {r['verdict']}: {r['comparison']}, {r['setting']}: {interval}")
    lines += [
        f"report and figures: {path.parent}/ (report.md); again: {again}",
        f"notebooks: RAN_RESULTS_DIR={shlex.quote(config.output)} jupyter lab notebooks/",
    ]
    return "\n".join(lines)


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


def resume_command(config):
    """The command that continues this experiment, quoted for a POSIX shell."""
    script = shlex.quote(sys.argv[0])
    return f"python {script} --output {shlex.quote(config.output)} --resume {shlex.quote(config.experiment or '')}"


def _describe_size(config):
    if config.study.exhaustive:
        return (
            f"{config.num_samples} trials (every grid cell x {config.seeds} seed(s)), "
            f"{config.epochs} epochs each, {config.scheduler}, up to {config.max_concurrent} at once"
        )
    return (
        f"{config.num_samples} TPE trials of up to {config.epochs} epochs, {config.scheduler}, "
        f"up to {config.max_concurrent} at once"
    )
