"""The search space and study slices: validation up front, conditional dimensions, grid coverage."""

import optuna
import pytest

from ran_core.sweep.space import SMOKE, Study


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(grid={"depth": [56]}), "'depth' is not in the search space"),
        (dict(grid={"noise_ratio": [0.95]}), "noise_ratio must be a number in [0.0, 0.9]. Received: noise_ratio=0.95"),
        (
            dict(grid={"model": ["attention56", "resnet56"], "attention_type": ["mixed", "spatial"]}),
            "does not apply to ResNet baselines",
        ),
        (dict(grid={"learning_rate": [0.1]}, search={"learning_rate": (0.01, 0.2)}), "declared twice"),
        (dict(grid={"model": []}), "must be a non-empty list"),
        (dict(fixed={"epochz": 3}), "Unknown config keys ['epochz']"),
        (dict(fixed={"epochs": 0}), "epochs=0"),
        (dict(seeds=(-1,)), "seeds must be non-negative"),
    ],
)
def test_bad_studies_fail_when_declared(kwargs, message):
    with pytest.raises(ValueError) as error:
        Study("s", **kwargs)
    assert message in str(error.value)


def test_grid_covers_every_cell_and_seed_once_and_resnets_get_no_attention_settings():
    study = Study(
        "s",
        grid={"model": ["attention56", "resnet56"], "noise_ratio": [0.0, 0.5]},
        fixed={**SMOKE, "attention_type": "spatial"},
        seeds=(0, 1),
    )
    assert study.num_cells() == 8 and study.max_epochs() == SMOKE["epochs"]
    optuna_study = optuna.create_study(sampler=optuna.samplers.GridSampler(study.grid_space(), seed=0))
    seen = set()
    for _ in range(study.num_cells()):
        trial = optuna_study.ask()
        constants = study.define_by_run(trial)
        config = {**trial.params, **constants}
        assert config["attention_type"] == "spatial" and "learning_mode" not in trial.params
        seen.add((config["model"], config["noise_ratio"], config["seed"]))  # asked while all run at once
    assert len(seen) == 8


def test_search_suggests_conditional_dimensions_only_for_attention_models():
    study = Study(
        "s",
        search={
            "model": ["attention56", "resnet56"],
            "attention_type": ["mixed", "channel"],
            "learning_rate": (0.01, 0.3),
        },
        fixed={"dataset": "digits", "validation_share": 0.2},
    )
    optuna_study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    kinds = set()
    for _ in range(20):
        trial = optuna_study.ask()
        study.define_by_run(trial)
        params = trial.params
        assert 0.01 <= params["learning_rate"] <= 0.3
        assert ("attention_type" in params) == params["model"].startswith("attention")
        kinds.add(params["model"])
        optuna_study.tell(trial, 0.5)
    assert kinds == {"attention56", "resnet56"}


def test_ranges_are_declared_once_and_the_space_and_the_config_enforce_the_same_ones():
    from ran_core.sweep.space import SPACE
    from ran_core.training.config import RANGES, TrainConfig

    numeric = [dim for dim in SPACE if not dim.choices]
    assert numeric and all(dim.allowed is RANGES[dim.name] for dim in numeric)
    for dim in numeric:
        for outside in (dim.allowed.low - 1, (dim.allowed.high or 1e9) * 2):
            with pytest.raises(ValueError) as from_space:
                Study("s", grid={dim.name: [outside]})
            with pytest.raises(ValueError) as from_config:
                TrainConfig(**{dim.name: outside})
            assert str(from_space.value) == str(from_config.value)
            assert f"Received: {dim.name}={outside!r}" in str(from_config.value)
