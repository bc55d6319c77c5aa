"""How far one sweep driver goes: recording, Optuna suggestions and the whole Tuner at thousands of trials.

    python benchmarks/driver_scale.py recorder --trials 4000 --epochs 25    # the recorder's Tune hooks alone
    python benchmarks/driver_scale.py optuna --sizes 0 500 1000 2000 4000   # one suggestion vs study size
    python benchmarks/driver_scale.py tuner --trials 2000 --sampler tpe     # real Tuner, no-op trials, ASHA

`recorder` calls ResultRecorder's hooks (on_trial_result per epoch, on_trial_complete) with minimal
trial objects, as the TuneController would, then compacts and reads everything back. `optuna` times
one suggestion (ask + the search study's define-by-run) of the sweep's own sampler
(ran_core.sweep.tuner.sampler_for) on an in-memory study already holding N finished trials (one in five COMPLETE,
the rest PRUNED, as under ASHA). `tuner` runs the sweep's own Tuner (ran_core.sweep.tuner.build_tuner:
PruningOptunaSearch, the sweep's ASHA or `--scheduler asha-stopping`, recorder, reuse_actors) over a
no-op trainable whose test error is a smooth function of the config, checkpointed at the rungs so
that a trial ASHA paused resumes where it stopped, on a local Ray, and reports trials per minute and
driver CPU per trial for each block of trials. Each prints JSON.
"""

import argparse
import dataclasses
import io
import json
import math
import sys
import tempfile
import time
from contextlib import redirect_stdout
from pathlib import Path

import optuna
from ray import tune

from ran_core.results import compacted_path, parts_path, read_results
from ran_core.sweep.config import configure
from ran_core.sweep.recorder import ResultRecorder
from ran_core.sweep.runner import reconcile
from ran_core.sweep.schedulers import asha_rungs
from ran_core.sweep.space import SMOKE, Study
from ran_core.sweep.tuner import build_tuner, sampler_for

SEARCH = {
    "model": ["attention56", "resnet56"],
    "attention_type": ["mixed", "channel", "spatial"],
    "learning_mode": ["arl", "nal"],
    "learning_rate": (0.01, 0.3),
    "weight_decay": (1e-5, 1e-3),
}


class _Trial:
    def __init__(self, trial_id, config):
        self.trial_id, self.config, self.checkpoint, self.last_result = trial_id, config, None, {}


def bench_recorder(args):
    """Hooks only: blocks of `--block` trials timed; the folder read back at the end."""
    config = {**SMOKE, "model": "attention56", "epochs": args.epochs, "learning_rate": 0.1}
    blocks, sink = [], io.StringIO()
    with tempfile.TemporaryDirectory(prefix="ran_recorder_") as tmp, redirect_stdout(sink):
        recorder = ResultRecorder(tmp, "exp", "driver_scale")
        started, cpu_started, block_started = time.perf_counter(), time.process_time(), time.perf_counter()
        for i in range(args.trials):
            trial = _Trial(f"t{i:06d}", config)
            for epoch in range(1, args.epochs + 1):
                trial.last_result = {
                    "epoch": epoch,
                    "test_error": 1 / epoch,
                    "test_accuracy": 1 - 1 / epoch,
                    "train_loss": 1.0,
                    "epoch_time_s": 0.1,
                    "images_per_s": 1e4,
                    "time_total_s": 0.1 * epoch,
                    "node": "n",
                    "backend": "tensorflow",
                }
                recorder.on_trial_result(i, [], trial, dict(trial.last_result))
            recorder.on_trial_complete(i, [], trial)
            if (i + 1) % args.block == 0:
                blocks.append(time.perf_counter() - block_started)
                block_started = time.perf_counter()
        recorder.on_experiment_end([])
        hooks_s, hooks_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
        mid_run = time.perf_counter()
        trials_mid = read_results(tmp, "trials").num_rows
        read_mid_s = time.perf_counter() - mid_run
        parts = len(list(parts_path(tmp, "epochs").iterdir()))
        compacting = time.perf_counter()
        recorder.finish()
        compact_s = time.perf_counter() - compacting
        import pyarrow.parquet as pq

        trials = pq.read_table(compacted_path(tmp, "trials"))
        epochs = pq.read_table(compacted_path(tmp, "epochs"))
        keys = set(zip(epochs["trial_id"].to_pylist(), epochs["epoch"].to_pylist()))
    return {
        "mode": "recorder",
        "trials": args.trials,
        "epochs": args.epochs,
        "hooks_s": round(hooks_s, 2),
        "hooks_cpu_s": round(hooks_cpu_s, 2),
        "compact_s": round(compact_s, 2),
        "total_s": round(hooks_s + compact_s, 2),
        "block_trials": args.block,
        "block_s": [round(b, 2) for b in blocks],
        "last_over_first_block": round(blocks[-1] / blocks[0], 2) if blocks else None,
        "epoch_parts_before_compaction": parts,
        "mid_run_read_of_trials_s": round(read_mid_s, 2),
        "trials_read_mid_run": trials_mid,
        "trial_rows": trials.num_rows,
        "trial_ids_unique": len(set(trials["trial_id"].to_pylist())) == trials.num_rows == args.trials,
        "epoch_rows": epochs.num_rows,
        "epoch_keys_unique": len(keys) == epochs.num_rows == args.trials * args.epochs,
    }


def _finished_trial(study, rng, epochs):
    """A COMPLETE (one in five) or PRUNED FrozenTrial of the search space, with intermediate values."""
    draw = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=int(rng.integers(2**31)))).ask()
    study.define_by_run(draw)
    steps = epochs if rng.random() < 0.2 else int(rng.integers(1, epochs))
    curve = {step: float(rng.random()) for step in range(1, steps + 1)}
    state = optuna.trial.TrialState.COMPLETE if steps == epochs else optuna.trial.TrialState.PRUNED
    return optuna.trial.create_trial(
        params=draw.params,
        distributions=draw.distributions,
        intermediate_values=curve,
        state=state,
        value=curve[steps] if steps == epochs else None,
    )


def bench_optuna(args):
    """Milliseconds per suggestion as the study grows, for the sweep's TPE and the given variants."""
    import numpy as np

    study_def = Study("driver_scale", search=SEARCH, fixed=_search_fixed(9))
    config = configure({"smoke": study_def}, ["--output", tempfile.gettempdir(), "--max-concurrent", "8"])
    samplers = {
        "sweep: RecentTPESampler window 1000": lambda: sampler_for(config),
        "plain TPESampler": lambda: optuna.samplers.TPESampler(seed=0, n_startup_trials=8),
    }
    rows = {}
    for name, make in samplers.items():
        rows[name] = {}
        study = optuna.create_study(sampler=make(), direction="minimize")  # in memory: the sampler's own cost
        rng, have = np.random.default_rng(0), 0
        for size in sorted(args.sizes):
            study.add_trials([_finished_trial(study_def, rng, 9) for _ in range(size - have)])
            have = size
            times = []
            for _ in range(args.asks):
                started = time.process_time()  # CPU time: a shared machine's load does not inflate it
                trial = study.ask()
                study_def.define_by_run(trial)
                times.append(time.process_time() - started)
                study.tell(trial, state=optuna.trial.TrialState.FAIL)  # FAIL: TPE ignores it, size unchanged
            rows[name][size] = round(1000 * float(np.median(times)), 1)
            print(json.dumps({name: rows[name]}), file=sys.stderr, flush=True)
    return {"mode": "optuna", "cpu_ms_per_suggestion_by_finished_trials": rows}


def _fixed(varied, epochs):
    """The smoke recipe minus what the study varies, with its own epoch budget."""
    return {**{k: v for k, v in SMOKE.items() if k not in varied}, "epochs": epochs}


def _search_fixed(epochs):
    """A search's fixed values: it selects on a validation split (space.Study requires one)."""
    return {**_fixed(SEARCH, epochs), "validation_share": 0.2}


class _Probe(tune.Callback):
    """Trials finished, wall time and driver CPU at every `block` finished trials."""

    def __init__(self, block):
        self.block, self.done, self.marks = block, 0, [(0, time.perf_counter(), time.process_time())]

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.done += 1
        if self.done % self.block == 0:
            self.marks.append((self.done, time.perf_counter(), time.process_time()))
            print(json.dumps(self.rate(-1)), file=sys.stderr, flush=True)

    def rate(self, i):
        (n0, t0, c0), (n1, t1, c1) = self.marks[i - 1], self.marks[i]
        return {
            "trials": n1,
            "trials_per_min": round(60 * (n1 - n0) / (t1 - t0), 1),
            "driver_cpu_ms_per_trial": round(1000 * (c1 - c0) / (n1 - n0), 1),
        }


def noop_trial(config, checkpoint_epochs=frozenset()):
    """No training: a smooth function of the config, falling with the epoch, reported per epoch,
    with a checkpoint (the epoch, in a small file) at `checkpoint_epochs` to resume from after a pause."""
    quality = abs(math.log10(config["learning_rate"] / 0.1)) + abs(math.log10(config["weight_decay"] / 1e-4)) / 4
    start = 0
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as folder:
            start = json.loads(Path(folder, "epoch.json").read_text())
    for epoch in range(start + 1, config["epochs"] + 1):
        error = 0.05 + 0.1 * quality + 0.5 / epoch
        metrics = {"epoch": epoch, "test_error": error, "val_error": error}  # a search minimises val_error
        if epoch not in checkpoint_epochs:
            tune.report(metrics)
            continue
        with tempfile.TemporaryDirectory() as folder:
            Path(folder, "epoch.json").write_text(json.dumps(epoch))
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))


def bench_tuner(args):
    import ray

    if args.sampler == "grid":
        cells = math.ceil(args.trials / 10)
        lrs = [0.001 * 1000 ** (i / max(1, cells - 1)) for i in range(cells)]
        study = Study(
            "driver_scale",
            grid={"learning_rate": lrs, "weight_decay": [1e-6 * 2.5**i for i in range(10)]},
            fixed=_fixed(("learning_rate", "weight_decay"), args.epochs),
        )
    else:
        study = Study("driver_scale", search=SEARCH, fixed=_search_fixed(args.epochs))
    with tempfile.TemporaryDirectory(prefix="ran_driver_") as tmp:
        argv = [
            "--output",
            f"{tmp}/out",
            "--storage",
            f"{tmp}/storage",
            "--max-concurrent",
            str(args.concurrency),
            "--scheduler",
            args.scheduler,
            "--rank-by",
            "test_error" if study.exhaustive else "val_error",  # what the no-op trainable reports
            "--cpus-per-trial",
            str(args.cpus_per_trial),
            "--max-failures",
            "0",
        ]
        if study.exhaustive:
            study = study.replace(seeds=(0,))
        else:
            argv += ["--num-samples", str(args.trials)]
        config = dataclasses.replace(configure({"smoke": study}, argv), experiment="driver_scale", gpus_per_trial=0.0)
        study = config.study
        rungs = asha_rungs(config.grace_period, config.reduction_factor, args.epochs)
        Path(config.output).mkdir(parents=True)
        ray.init(num_cpus=args.ray_cpus, include_dashboard=False, log_to_driver=False)
        probe = _Probe(args.block)
        try:
            tuner = build_tuner(
                config,
                None,
                trainable=tune.with_resources(
                    tune.with_parameters(noop_trial, checkpoint_epochs=frozenset(rungs)), {"cpu": args.cpus_per_trial}
                ),
                callbacks=[probe],
            )
            started = time.perf_counter()
            with redirect_stdout(io.StringIO()):
                grid = tuner.fit()
            fit_s = time.perf_counter() - started
        finally:
            ray.shutdown()
        started = time.perf_counter()
        with redirect_stdout(io.StringIO()):
            summary = reconcile(grid, ResultRecorder(f"{tmp}/out", "driver_scale", study.name))
        reconcile_s = time.perf_counter() - started
        trials = read_results(f"{tmp}/out", "trials").to_pandas()
    return {
        "mode": "tuner",
        "sampler": args.sampler,
        "scheduler": args.scheduler,
        "trials": len(trials),
        "epochs": args.epochs,
        "concurrency": args.concurrency,
        "fit_s": round(fit_s, 1),
        "reconcile_s": round(reconcile_s, 1),
        "trials_per_min_overall": round(60 * len(trials) / fit_s, 1),
        "errored": len(summary["errored"]),
        "statuses": trials["status"].value_counts().to_dict(),
        "blocks": [probe.rate(i) for i in range(1, len(probe.marks))],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    recorder = modes.add_parser("recorder")
    recorder.add_argument("--trials", type=int, default=4000)
    recorder.add_argument("--epochs", type=int, default=25)
    recorder.add_argument("--block", type=int, default=1000)
    optuna_mode = modes.add_parser("optuna")
    optuna_mode.add_argument("--sizes", type=int, nargs="+", default=[0, 500, 1000, 2000, 4000])
    optuna_mode.add_argument("--asks", type=int, default=10, help="suggestions timed at each size (median)")
    tuner = modes.add_parser("tuner")
    tuner.add_argument("--trials", type=int, default=2000)
    tuner.add_argument("--epochs", type=int, default=9)
    tuner.add_argument("--sampler", choices=["tpe", "grid"], default="tpe")
    tuner.add_argument(
        "--scheduler",
        choices=["asha", "asha-stopping"],
        default="asha",
        help="asha (the sweep's default) pauses every trial at each rung; asha-stopping is Tune's ASHA",
    )
    tuner.add_argument("--concurrency", type=int, default=8)
    tuner.add_argument("--cpus-per-trial", type=float, default=0.25)
    tuner.add_argument("--ray-cpus", type=int, default=2)
    tuner.add_argument("--block", type=int, default=250)
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    report = {"recorder": bench_recorder, "optuna": bench_optuna, "tuner": bench_tuner}[args.mode](args)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
