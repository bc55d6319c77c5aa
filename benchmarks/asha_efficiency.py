"""ASHA efficiency on a synthetic learning-curve workload (no Keras, seconds per trial).

    python benchmarks/asha_efficiency.py --trials 64 --max-t 27

The sweep engine's own searcher and scheduler (PruningOptunaSearch, ASHAScheduler) drive a trainable whose test error follows a seeded exponential learning curve
determined by its configuration. Prints JSON: the epochs ASHA used as a fraction of training
every trial to max_t, and whether ASHA's best configuration is the one full training of the same
configurations finds.
"""

import argparse
import json
import math
import time

import numpy as np
import optuna
import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler

from ran_core.optuna_glue import PruningOptunaSearch


def final_error(config):
    """Where the curve ends: best near lr 0.1 and wd 1e-4; deeper attention helps a little."""
    lr_term = 0.08 * math.log10(config["learning_rate"] / 0.1) ** 2
    wd_term = 0.03 * math.log10(config["weight_decay"] / 1e-4) ** 2
    depth_term = {"attention56": 0.02, "attention92": 0.01, "attention128": 0.0}[config["model"]]
    return 0.05 + lr_term + wd_term + depth_term


def curve(config, epoch):
    tau = 3.0 + 20.0 * config["weight_decay"] / 1e-3  # heavy decay converges slower
    rng = np.random.default_rng([config["seed"], epoch])
    return final_error(config) + 0.8 * math.exp(-epoch / tau) + rng.normal(0, 0.004)


def trainable(config):
    for epoch in range(1, config["max_t"] + 1):
        time.sleep(0.01)
        tune.report({"epoch": epoch, "test_error": curve(config, epoch)})


def space(trial):
    trial.suggest_categorical("model", ["attention56", "attention92", "attention128"])
    trial.suggest_float("learning_rate", 1e-3, 1.0, log=True)
    trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True)
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--max-t", type=int, default=27)
    parser.add_argument("--grace-period", type=int, default=1)
    parser.add_argument("--reduction-factor", type=int, default=3)
    args = parser.parse_args()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    searcher = PruningOptunaSearch(space, metric="test_error", mode="min", max_t=args.max_t, time_attr="epoch",
                                   sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=8))
    tuner = tune.Tuner(
        trainable, param_space={"max_t": args.max_t, "seed": 0},
        tune_config=tune.TuneConfig(
            search_alg=searcher, num_samples=args.trials, max_concurrent_trials=2,
            scheduler=ASHAScheduler(time_attr="epoch", max_t=args.max_t, grace_period=args.grace_period,
                                    reduction_factor=args.reduction_factor),
            metric="test_error", mode="min"),
        run_config=tune.RunConfig(verbose=0, storage_path="/tmp/ran_asha_benchmark"))
    grid = tuner.fit()
    ray.shutdown()
    results = [(r.config, r.metrics["epoch"], r.metrics["test_error"]) for r in grid]
    used = sum(epochs for _, epochs, _ in results)
    asha_best = min((r for r in results if r[1] == args.max_t), key=lambda r: r[2])[0]
    full_best = min(results, key=lambda r: curve(r[0], args.max_t))[0]
    states = [t.state.name for t in searcher._ot_study.trials]
    print(json.dumps({
        "trials": len(results), "max_t": args.max_t, "epochs_used": used,
        "fraction_of_full": round(used / (len(results) * args.max_t), 3),
        "asha_best": asha_best, "full_training_best": full_best, "same_best": asha_best == full_best,
        "optuna_states": {s: states.count(s) for s in set(states)},
    }, default=str))


if __name__ == "__main__":
    main()
