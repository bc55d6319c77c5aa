"""One statement of each fact: the roles of TrainConfig's and SweepConfig's fields, and what derives
from them (result columns, checkpoint compatibility, the model cache's key, --resume's checks)."""

import dataclasses
import shlex
import sys

import optuna
import pytest

from ran_core.common.names import DATASETS
from ran_core.results.schema import CONFIG_COLUMNS, TRIALS_SCHEMA
from ran_core.sweep.config import RESULT, SweepConfig, configure
from ran_core.sweep.runner import resume_command
from ran_core.sweep.space import RECIPES, SMOKE, Study
from ran_core.training.config import PER_RUN_FIELDS, RESULT_FIELDS, TrainConfig

from cifar_files import write_cifar

STUDY = Study("noise_robustness", grid={"model": ["attention56", "resnet56"]}, fixed=SMOKE, seeds=(0, 1))


def test_every_train_config_field_is_a_result_column_of_its_type():
    assert tuple(f.name for f in dataclasses.fields(TrainConfig)) == CONFIG_COLUMNS
    types = {f.name: str(f.type) for f in TRIALS_SCHEMA}
    assert types["lr_drops"] == "list<item: double>" and types["mask_pools"] == "list<item: int64>"
    assert types["augment"] == "bool" and types["seed"] == "int64" and types["data_dir"] == "string"


def test_where_the_data_lives_never_changes_results_and_is_not_compiled_in():
    assert "data_dir" not in RESULT_FIELDS and "steps_per_execution" not in RESULT_FIELDS
    assert {"model", "seed", "learning_rate", "noise_ratio", "augment"} <= set(RESULT_FIELDS)
    assert set(PER_RUN_FIELDS) == {
        "seed",
        "learning_rate",
        "weight_decay",
        "momentum",
        "lr_drops",
        "epochs",
        "noise_ratio",
        "validation_share",
        "split_seed",
        "data_dir",
    }


def test_sweep_config_is_frozen_and_its_result_flags_come_from_the_roles(tmp_path):
    config = configure({"smoke": STUDY}, ["--output", str(tmp_path), "--epochs", "3", "--seeds", "3"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.epochs = 4
    flags = config.result_flags()
    assert set(flags) == {f.name for f in dataclasses.fields(SweepConfig) if f.metadata.get("role") == RESULT}
    assert flags["epochs"] == 3 and flags["seeds"] == 3 and flags["num_samples"] == 6 and flags["scheduler"] == "fifo"
    assert "output" not in flags and "data_dir" not in flags and "max_concurrent" not in flags
    assert config.study.fixed["epochs"] == 3 and config.study.seeds == (0, 1, 2)


def test_cluster_values_are_filled_in_a_new_config(tmp_path):
    config = configure({"smoke": STUDY}, ["--output", str(tmp_path), "--cpus-per-trial", "2"])
    on_gpus = config.on_cluster({"CPU": 16, "GPU": 4})
    assert (on_gpus.gpus_per_trial, on_gpus.max_concurrent) == (1.0, 4)
    on_cpus = config.on_cluster({"CPU": 16})
    assert (on_cpus.gpus_per_trial, on_cpus.max_concurrent) == (0.0, 8)
    assert config.gpus_per_trial is None and config.max_concurrent is None  # the original is untouched


def test_the_printed_resume_command_survives_a_shell(tmp_path, monkeypatch):
    out = tmp_path / "my results; rm -rf x"
    config = dataclasses.replace(configure({"smoke": STUDY}, ["--output", str(out)]), experiment="exp-1")
    monkeypatch.setattr(sys, "argv", ["sweeps/noise robustness.py"])
    words = shlex.split(resume_command(config))
    assert words == ["python", "sweeps/noise robustness.py", "--output", str(out), "--resume", "exp-1"]


def test_every_dataset_has_a_recipe():
    assert set(RECIPES) == set(DATASETS)
    assert RECIPES["cifar10"] == {"batch_size": 64, "learning_rate": 0.1, "lr_drops": (0.4, 0.6), "augment": True}


def _trial_configs(study):
    """What Tune's trials receive: Optuna's define-by-run suggestions plus the returned constants."""
    optuna_study = optuna.create_study(sampler=optuna.samplers.GridSampler(study.grid_space(), seed=0))
    configs = []

    def objective(trial):
        constants = study.define_by_run(trial)
        configs.append({**trial.params, **constants})
        return 0.0

    optuna_study.optimize(objective, n_trials=study.num_cells())
    return configs


def test_a_replaced_dataset_brings_its_recipe(tmp_path):
    """Smoke's digits recipe (batch 32, no augmentation) gives way to CIFAR's when --dataset replaces
    digits, in the study's cells and in the configs trials receive; flags override either."""
    cifar = write_cifar(tmp_path)
    out = ["--output", str(tmp_path / "out")]
    digits = configure({"smoke": STUDY}, out)
    assert {(c["batch_size"], c["augment"], c["lr_drops"]) for c in _trial_configs(digits.study)} == {
        (32, False, (0.6, 0.85))
    }
    on_cifar = configure({"smoke": STUDY}, [*out, "--dataset", "cifar10", "--data-dir", str(cifar)])
    for config in [*on_cifar.study.cells(), *_trial_configs(on_cifar.study)]:
        assert (config["batch_size"], config["augment"], tuple(config["lr_drops"])) == (64, True, (0.4, 0.6))
        assert config["width"] == 0.25 and config["epochs"] == 10  # the smoke size stays
    chosen = configure({"smoke": STUDY}, [*out, "--no-augment", "--batch-size", "16", "--learning-rate", "0.05"])
    assert {(c["batch_size"], c["augment"], c["learning_rate"]) for c in _trial_configs(chosen.study)} == {
        (16, False, 0.05)
    }
    assert chosen.result_flags()["augment"] is False and chosen.result_flags()["batch_size"] == 16
