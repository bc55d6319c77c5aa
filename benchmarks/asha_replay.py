"""Early stopping replayed on real learning curves: epochs used and regret, scheduler by scheduler.

    python benchmarks/asha_replay.py                     # the seed 0-2 banks, 100 random orders, 4 workers
    python benchmarks/asha_replay.py --orders 300 --workers 8 --bank other_bank.parquet

Reads curve banks (benchmarks/asha_curve_bank.py: every configuration's test error at every epoch
of its full budget; one bank per seed, each a separate draw of the same grid) and replays a sweep
over each for many random trial orders: `--workers` trials run at once, each epoch takes that
configuration's measured epoch time, and the decision after every epoch is taken by the real
scheduler object (the sweep's promoting ASHA, Tune's ASHA, synchronous HyperBand and median
stopping, driven through their TrialScheduler hooks by a small event loop standing in for the
TuneController) or the real Optuna pruner (trial.report / should_prune on an in-memory study).
No training: thousands of sweeps in seconds.

For each bank it gives the rank correlation, epoch by epoch, of the column the schedulers decide
on with the final test error. For each scheduler it prints the fraction of the full-budget epochs
used (epochs run / (configs x budget)) and the regret: final test error of the configuration the
sweep picks (lowest final error among the trials that ran the whole budget) minus the lowest final
error in the bank, in percentage points; mean, standard deviation and 90th percentile over the
orders of every bank, and the mean on each bank (a verdict one draw of curves carries shows
there). `--subsample` draws a random part of the bank for each order, showing how much a verdict
rests on one curve.
"""

import argparse
import heapq
import json
import logging
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pyarrow.parquet as pq
from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, HyperBandScheduler, MedianStoppingRule, TrialScheduler

from ran_core.sweep.schedulers import PromotingASHAScheduler

# One bank per seed, built on the engine on main (asha_curve_bank.py --seed N); the seed-3 bank was
# built after the default scheduler was chosen and is held out (replay it with --bank).
BANKS = [Path(__file__).with_name(f"asha_curve_bank{suffix}.parquet") for suffix in ("", "_seed1", "_seed2")]
METRIC, MODE, TIME_ATTR = "test_error", "min", "epoch"


class Curves:
    """The bank as arrays: error[config, epoch - 1] (test error, which regret is scored on),
    rank[config, epoch - 1] (what the schedulers see: `rank_by`, test error unless asked) and
    seconds per epoch of each configuration."""

    def __init__(self, path, rank_by="test_error"):
        frame = pq.read_table(path).to_pandas().sort_values(["trial_id", "epoch"])
        if rank_by not in frame.columns:
            raise ValueError(f"--rank-by {rank_by!r} is not a column of {path}; it has {list(frame.columns)}")
        trials = [g for _, g in frame.groupby("trial_id", sort=False)]
        self.names = [g["trial_id"].iloc[0] for g in trials]
        self.error = np.stack([g["test_error"].to_numpy() for g in trials])
        self.rank = np.stack([g[rank_by].to_numpy() for g in trials])
        self.epoch_s = np.array([g["epoch_time_s"].median() for g in trials])
        self.configs, self.budget = self.error.shape
        self.final = self.error[:, -1]

    def rank_correlation(self):
        """Spearman's rank correlation, epoch by epoch, of what the schedulers see with the final
        test error: how well a rung at that epoch orders the configurations."""
        final = pd.Series(self.final)
        return [round(float(pd.Series(self.rank[:, e]).corr(final, method="spearman")), 2) for e in range(self.budget)]


class _Trial:
    """What a TrialScheduler reads of a trial."""

    def __init__(self, index):
        self.trial_id, self.index, self.status = f"t{index:04d}", index, Trial.PENDING
        self.is_saving, self.last_result, self.epochs_run = False, {}, 0

    def __repr__(self):
        return self.trial_id


class _Controller:
    """The part of Tune's TuneController the schedulers call back into."""

    def __init__(self, scheduler):
        self.scheduler, self.trials = scheduler, []

    def get_trials(self):
        return self.trials

    def get_live_trials(self):
        return [t for t in self.trials if t.status != Trial.TERMINATED]

    def stop_trial(self, trial):  # as TuneController.stop_trial for a trial that is not running
        if trial.status in (Trial.PENDING, Trial.PAUSED):
            self.scheduler.on_trial_remove(self, trial)
            trial.status = Trial.TERMINATED


def replay_tune(make_scheduler, curves, order, workers):
    """One sweep over the configurations in `order` under a Tune scheduler; returns epochs run per config."""
    scheduler = make_scheduler(len(order), workers)
    controller = _Controller(scheduler)
    waiting, running, now = list(order), [], 0.0

    def next_trial():
        chosen = scheduler.choose_trial_to_run(controller)
        if chosen is None and waiting:
            chosen = _Trial(waiting.pop(0))
            controller.trials.append(chosen)
            scheduler.on_trial_add(controller, chosen)
        return chosen

    def start(trial):
        if trial.epochs_run == curves.budget:  # paused on its last epoch: resumed, it just ends
            complete(trial)
            return
        trial.status = Trial.RUNNING
        heapq.heappush(running, (now + curves.epoch_s[trial.index], trial.trial_id, trial))

    def complete(trial):
        scheduler.on_trial_complete(controller, trial, trial.last_result)
        trial.status = Trial.TERMINATED

    while True:
        while len(running) < workers and (trial := next_trial()) is not None:
            start(trial)
        if not running:
            break
        now, _, trial = heapq.heappop(running)
        trial.epochs_run += 1
        result = {
            TIME_ATTR: trial.epochs_run,
            "training_iteration": trial.epochs_run,
            METRIC: float(curves.rank[trial.index, trial.epochs_run - 1]),
        }
        trial.last_result = result
        decision = scheduler.on_trial_result(controller, trial, result)
        if decision == TrialScheduler.PAUSE:  # also on the last epoch: HyperBand holds it in its bracket
            trial.status = Trial.PAUSED
        elif decision == TrialScheduler.STOP or trial.epochs_run == curves.budget:
            complete(trial)
        else:
            start(trial)
    epochs = np.zeros(curves.configs, dtype=int)
    for trial in controller.trials:
        epochs[trial.index] = trial.epochs_run
    return epochs


def replay_optuna(make_pruner, curves, order, workers):
    """The same sweep with an Optuna pruner deciding after every reported epoch."""
    study = optuna.create_study(
        direction="minimize", pruner=make_pruner(len(order), workers), sampler=optuna.samplers.RandomSampler(seed=0)
    )
    waiting, running, now = list(order), [], 0.0
    epochs = np.zeros(curves.configs, dtype=int)

    def start(index, trial):
        heapq.heappush(running, (now + curves.epoch_s[index], trial.number, index, trial))

    while True:
        while len(running) < workers and waiting:
            start(waiting.pop(0), study.ask())
        if not running:
            break
        now, _, index, trial = heapq.heappop(running)
        epochs[index] += 1
        value = float(curves.rank[index, epochs[index] - 1])
        trial.report(value, int(epochs[index]))
        if epochs[index] == curves.budget:
            study.tell(trial, value)
        elif trial.should_prune():
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        else:
            start(index, trial)
    return epochs


def score(curves, epochs, order):
    """(fraction of the full budget used, regret in percentage points) of one replayed sweep over
    the configurations in `order`."""
    ran = np.flatnonzero(epochs == epochs.max())  # normally: the trials that ran the whole budget
    picked = ran[np.argmin(curves.error[ran, epochs.max() - 1])]
    best = curves.final[order].min()
    return epochs.sum() / (len(order) * curves.budget), 100 * (curves.final[picked] - best)


def contenders(budget):
    """name -> (replay function, factory of a fresh scheduler or pruner for a sweep of n trials
    with w running at once)."""
    grace_periods = sorted({1, 2, 3, round(budget / 6), budget // 3})
    tune = {
        f"asha g={g} rf={rf}": (
            lambda n, w, g=g, rf=rf: ASHAScheduler(
                time_attr=TIME_ATTR, metric=METRIC, mode=MODE, max_t=budget, grace_period=g, reduction_factor=rf
            )
        )
        for g in grace_periods
        for rf in (2, 3, 4, 5)
        if g * rf <= budget
    }
    tune["asha g=1 rf=3 brackets=3"] = lambda n, w: ASHAScheduler(
        time_attr=TIME_ATTR, metric=METRIC, mode=MODE, max_t=budget, grace_period=1, reduction_factor=3, brackets=3
    )
    tune.update(
        {
            f"promoting asha g={g} rf={rf}": (
                lambda n, w, g=g, rf=rf: PromotingASHAScheduler(
                    time_attr=TIME_ATTR,
                    metric=METRIC,
                    mode=MODE,
                    max_t=budget,
                    grace_period=g,
                    reduction_factor=rf,
                    num_samples=n,
                    max_concurrent=w,
                )
            )
            for g in (1, 2, 3)
            for rf in (3, 4, 5)
            if g * rf <= budget
        }
    )
    tune["hyperband rf=3"] = lambda n, w: HyperBandScheduler(
        time_attr=TIME_ATTR, metric=METRIC, mode=MODE, max_t=budget, reduction_factor=3
    )
    for g in (1, 3):
        tune[f"median stopping g={g}"] = lambda n, w, g=g: MedianStoppingRule(
            time_attr=TIME_ATTR, metric=METRIC, mode=MODE, grace_period=g, min_samples_required=3
        )
    pruners = {
        **{
            f"optuna successive halving g=1 rf={rf}": lambda n, w, rf=rf: optuna.pruners.SuccessiveHalvingPruner(
                min_resource=1, reduction_factor=rf
            )
            for rf in (3, 5)
        },
        "optuna hyperband rf=3": lambda n, w: optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=budget, reduction_factor=3
        ),
        "optuna median warmup=3": lambda n, w: optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=3),
        "optuna percentile 25 warmup=3": lambda n, w: optuna.pruners.PercentilePruner(
            25.0, n_startup_trials=5, n_warmup_steps=3
        ),
    }
    return {
        **{name: (replay_tune, make) for name, make in tune.items()},
        **{name: (replay_optuna, make) for name, make in pruners.items()},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bank",
        nargs="+",
        default=[str(path) for path in BANKS],
        help="one or more banks of one budget (default: the seed 0, 1 and 2 banks in benchmarks/)",
    )
    parser.add_argument("--orders", type=int, default=100, help="random trial orders per scheduler")
    parser.add_argument("--workers", type=int, default=4, help="trials running at once")
    parser.add_argument(
        "--subsample",
        type=float,
        default=1.0,
        help="each order draws this fraction of the configurations (a bootstrap over the bank)",
    )
    parser.add_argument("--only", help="replay only the contenders whose name contains this")
    parser.add_argument(
        "--rank-by",
        default="test_error",
        help="the bank column schedulers decide on (test_error, test_loss, train_loss); regret is always test error",
    )
    args = parser.parse_args(argv)
    logging.getLogger("ray.tune").setLevel(logging.ERROR)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    names = [Path(path).stem for path in args.bank]
    if len(set(names)) < len(names):
        parser.error(
            f"each bank needs a file name of its own (they name the banks in the report). Received: {args.bank}"
        )
    try:
        banks = {name: Curves(path, args.rank_by) for name, path in zip(names, args.bank)}
    except (ValueError, OSError) as err:
        parser.error(str(err))
    budgets = {name: curves.budget for name, curves in banks.items()}
    if len(set(budgets.values())) > 1:
        parser.error(f"the banks must share one epoch budget. Received: {budgets}")
    orders = {
        name: [
            np.random.default_rng(seed).permutation(curves.configs)[: max(2, round(args.subsample * curves.configs))]
            for seed in range(args.orders)
        ]
        for name, curves in banks.items()
    }
    report = {
        "banks": {
            name: {
                "configs": c.configs,
                "best_final_error": round(float(c.final.min()), 4),
                "rank_correlation_by_epoch": c.rank_correlation(),
            }
            for name, c in banks.items()
        },
        "rank_by": args.rank_by,
        "budget": next(iter(budgets.values())),
        "workers": args.workers,
        "orders_per_bank": args.orders,
        "subsample": args.subsample,
        "schedulers": {},
    }
    for name, (replay, make) in contenders(report["budget"]).items():
        if args.only and args.only not in name:
            continue
        started = time.perf_counter()
        scores = {
            bank: np.array([score(curves, replay(make, curves, order, args.workers), order) for order in orders[bank]])
            for bank, curves in banks.items()
        }
        fractions, regrets = np.concatenate(list(scores.values())).T
        report["schedulers"][name] = {
            "fraction_of_full": round(fractions.mean(), 3),
            "fraction_std": round(fractions.std(), 3),
            "regret_pp": round(regrets.mean(), 2),
            "regret_std_pp": round(regrets.std(), 2),
            "regret_p90_pp": round(float(np.percentile(regrets, 90)), 2),
            "per_bank": {
                bank: {"fraction_of_full": round(s[:, 0].mean(), 3), "regret_pp": round(s[:, 1].mean(), 2)}
                for bank, s in scores.items()
            },
            "replay_s": round(time.perf_counter() - started, 1),
        }
        print(f"{name:36s} {json.dumps(report['schedulers'][name])}", flush=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
