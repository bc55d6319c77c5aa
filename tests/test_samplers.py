"""The sweep's samplers: RecentTPESampler (plain TPE below its window, TPE over the newest `window`
trials above it) and the grid Tune ends."""

import pickle

import optuna
import pytest

from ran_core.sweep.samplers import RecentTPESampler


def objective(trial):
    x = trial.suggest_float("x", -5, 5)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    return (x - 1) ** 2 + (kind == "b")


def suggestions(sampler, trials, n=5, learn=False):
    """n suggestions after `trials`; each is told FAIL (the modelled history stays unchanged) or,
    with `learn`, its objective (each suggestion sees the ones before it)."""
    study = optuna.create_study(sampler=sampler)
    study.add_trials(trials)
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append((trial.suggest_float("x", -5, 5), trial.suggest_categorical("kind", ["a", "b"])))
        if learn:
            study.tell(trial, objective(trial))  # the same suggestions again: Optuna returns the values above
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
    return out


@pytest.fixture(scope="module")
def history():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    study.optimize(objective, n_trials=120)
    return study.trials


def test_below_the_window_it_suggests_exactly_what_tpe_does(history):
    assert suggestions(RecentTPESampler(window=500, seed=3), history) == suggestions(
        optuna.samplers.TPESampler(seed=3), history
    )


def test_above_the_window_it_models_only_the_newest_trials(history):
    windowed = suggestions(RecentTPESampler(window=30, seed=3), history)
    assert windowed == suggestions(optuna.samplers.TPESampler(seed=3), history[-30:])
    assert windowed != suggestions(optuna.samplers.TPESampler(seed=3), history)


def test_a_bad_window_is_rejected_with_what_was_received():
    with pytest.raises(ValueError, match="Received: window=0"):
        RecentTPESampler(window=0)


def test_each_suggestion_sees_the_trials_told_before_it_and_the_sampler_pickles_without_the_study(history):
    sampler = RecentTPESampler(window=500, seed=3)
    assert suggestions(sampler, history, n=8, learn=True) == suggestions(
        optuna.samplers.TPESampler(seed=3), history, n=8, learn=True
    )
    restored = pickle.loads(pickle.dumps(sampler))
    assert restored.window == 500 and restored._view == (None, None)


def test_the_grid_covers_every_cell_once_and_ends_without_stopping_the_study():
    """Told outside Study.optimize (as Tune tells it), Optuna's grid raises at its last cell; ours
    leaves the end to Tune's num_samples."""
    from ran_core.sweep.samplers import GridSampler

    space = {"model": ["attention56", "resnet56"], "seed": [0, 1, 2]}
    stock = optuna.create_study(sampler=optuna.samplers.GridSampler(space, seed=0))
    with pytest.raises(RuntimeError, match="Study.stop"):
        for _ in range(6):
            trial = stock.ask()
            trial.suggest_categorical("model", space["model"]), trial.suggest_categorical("seed", space["seed"])
            stock.tell(trial, 0.0)
    study = optuna.create_study(sampler=GridSampler(space, seed=0))
    cells = []
    for _ in range(6):
        trial = study.ask()
        cells.append(
            (trial.suggest_categorical("model", space["model"]), trial.suggest_categorical("seed", space["seed"]))
        )
        study.tell(trial, 0.0)
    assert sorted(cells) == sorted((m, s) for m in space["model"] for s in space["seed"])
