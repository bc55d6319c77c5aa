"""The Tuner of a study: Optuna (grid or TPE) under a concurrency limit, an ASHA or FIFO
scheduler, the trainable with its resources and checkpoint policy, and the Parquet recorder."""

import os
from pathlib import Path

from ran_core.common.keys import OPTUNA_DB

MODE, TIME_ATTR = "min", "epoch"


def metric_for(study):
    """What Optuna and Tune minimise: the validation error where the study holds out a split (a
    search always does: TPE then never sees the test set), else the test error (a grid's
    GridSampler tries every cell whatever the value; Optuna records it for reading)."""
    return "val_error" if study.validation_share else "test_error"


def datasets_of(study):
    """Every dataset the study can touch: loaded once here (before Ray starts, so a missing copy is
    a bad-input error), shared with trials via the object store."""
    from ran_core.data import load_dataset

    names = study.grid.get("dataset") or study.search.get("dataset") or [study.fixed.get("dataset", "cifar10")]
    datasets = [load_dataset(name, study.fixed.get("data_dir")) for name in names]
    return {data.name: data for data in datasets}


def trial_env(config):
    """Environment of trial processes: the Keras backend, GPU memory sharing and JAX's persistent
    compilation cache (a folder on each node, `$RAN_COMPILE_CACHE` or the temp folder's
    `ran_jax_cache`; set it empty to turn the cache off), so trials that share a model and input
    shape compile it once per node."""
    import tempfile

    env = {"KERAS_BACKEND": config.backend, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    cache = os.environ.get("RAN_COMPILE_CACHE", os.path.join(tempfile.gettempdir(), "ran_jax_cache"))
    if cache:  # every program, also the small ones weight initialisation compiles (seconds in all)
        env.update(JAX_COMPILATION_CACHE_DIR=cache, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    if 0 < (config.gpus_per_trial or 0) < 1:  # several trials share one card: take memory as needed
        env.update(
            TF_FORCE_GPU_ALLOW_GROWTH="true",
            XLA_PYTHON_CLIENT_PREALLOCATE="false",
            XLA_PYTHON_CLIENT_MEM_FRACTION=f"{0.9 * config.gpus_per_trial:.2f}",
        )
    for name in ("RAN_FAIL_TRIAL_IF",):  # fault injection for tests travels to the trials
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def trainable_for(config, datasets):
    """run_trial on the shared `datasets`, with the trial's resources and its checkpoint policy
    (every --checkpoint-every seconds, the last epoch, and each ASHA rung a paused trial resumes from)."""
    from ray import tune

    from ran_core.sweep.schedulers import asha_rungs
    from ran_core.sweep.trainable import CheckpointPolicy, run_trial

    rungs = asha_rungs(config.grace_period, config.reduction_factor, config.epochs) if config.uses_asha else ()
    policy = CheckpointPolicy(every_s=config.checkpoint_every, epochs=frozenset(rungs))
    return tune.with_resources(
        tune.with_parameters(run_trial, datasets=datasets, checkpoint_policy=policy),
        {"cpu": config.cpus_per_trial, "gpu": config.gpus_per_trial},
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


def sampler_for(config):
    """Optuna's sampler: every grid cell (exhaustive studies) or TPE over the newest 1,000 trials
    (searches; a suggestion's cost stops growing there, docs/scaling.md)."""
    from ran_core.sweep.samplers import GridSampler, RecentTPESampler

    study = config.study
    if study.exhaustive:
        return GridSampler(study.grid_space(), seed=0)
    return RecentTPESampler(window=1000, seed=study.seeds[0], n_startup_trials=max(4, config.max_concurrent))


def build_tuner(config, datasets, trainable=None, callbacks=()):
    """The Tuner of `config` (a SweepConfig with its experiment name and cluster values set):
    Optuna (grid or TPE) under a concurrency limit, an ASHA or FIFO, the Parquet recorder.
    `trainable` and extra `callbacks` are for benchmarks (default: run_trial on `datasets`)."""
    from ray import tune

    from ran_core.sweep.optuna_glue import PruningOptunaSearch
    from ran_core.sweep.recorder import ResultRecorder

    metric = metric_for(config.study)
    recorder = ResultRecorder(config.output, config.experiment, config.study.name, select_by=metric)
    searcher = PruningOptunaSearch(
        config.study.define_by_run,
        metric=metric,
        mode=MODE,
        sampler=sampler_for(config),
        storage=optuna_storage(Path(config.output) / OPTUNA_DB),
        study_name=config.experiment,
        max_t=config.epochs,
        time_attr=TIME_ATTR,
    )
    searcher, scheduler, max_concurrent = _scheduled(config, searcher)
    # reuse_actors: a finished trial's worker process (TensorFlow/JAX imported, data in memory, its
    # compiled models: ran_core.training.model_cache, which resets every state a run has) runs the next trial.
    tune_config = tune.TuneConfig(
        search_alg=searcher,
        scheduler=scheduler,
        metric=metric,
        mode=MODE,
        num_samples=config.num_samples,
        max_concurrent_trials=max_concurrent,
        reuse_actors=True,
    )
    run_config = tune.RunConfig(
        name=config.experiment,
        storage_path=config.storage,
        verbose=0,
        callbacks=[recorder, _progress(config, recorder), *callbacks],
        failure_config=tune.FailureConfig(max_failures=config.max_failures),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
    )
    return tune.Tuner(trainable or trainable_for(config, datasets), tune_config=tune_config, run_config=run_config)


def _progress(config, recorder):
    """The console's progress line (ran_core.sweep.progress), fed by the recorder's counts."""
    from ran_core.sweep.progress import Progress

    return Progress(recorder, config.study.name, config.num_samples, config.epochs, upper_bound=config.uses_asha)


def _scheduled(config, searcher):
    """(searcher, scheduler, Tune's concurrency cap) for config.scheduler. The promoting ASHA
    brings its own limiter, which does not count trials waiting at a rung (Tune's would)."""
    from ran_core.sweep.schedulers import (
        LiveASHAScheduler,
        LiveFIFOScheduler,
        PromotingASHAScheduler,
        WaitingAwareLimiter,
    )

    if config.scheduler == "fifo":
        return searcher, LiveFIFOScheduler(), config.max_concurrent
    rungs = {
        "time_attr": TIME_ATTR,
        "metric": config.rank_by,
        "mode": "min",
        "max_t": config.epochs,
        "grace_period": config.grace_period,
        "reduction_factor": config.reduction_factor,
    }
    if config.scheduler == "asha-stopping":
        return (
            searcher,
            LiveASHAScheduler(**rungs).restore_from(config.output, config.experiment),
            config.max_concurrent,
        )
    scheduler = PromotingASHAScheduler(**rungs, num_samples=config.num_samples, max_concurrent=config.max_concurrent)
    scheduler.restore_from(config.output, config.experiment)  # read only if a resume unpickles it
    return WaitingAwareLimiter(searcher, config.max_concurrent, scheduler), scheduler, None


def optuna_url(output):
    return f"sqlite:///{Path(output) / OPTUNA_DB}"
