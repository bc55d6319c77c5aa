"""The validation split a search selects on, and the per-image test outcomes every trial records:
the split itself, the training run that holds it out, the checkpoint and the recorder that carry
the outcomes, and the sweep wiring (what Optuna minimises, which studies must have a split)."""

import json

import numpy as np
import pytest

from ran_core.data import load_dataset
from ran_core.data.split import validation_split
from ran_core.results.schema import EPOCHS_SCHEMA, TRIALS_SCHEMA
from ran_core.training.config import TrainConfig
from ran_core.training.loop import (
    _pixel_mean,
    epoch_order,
    pack_outcomes,
    split_of,
    train,
    training_labels,
    unpack_outcomes,
)

TINY = dict(model="resnet56", width=0.0625, dataset="synthetic", batch_size=32, epochs=2, learning_rate=0.05, seed=3)


@pytest.fixture(scope="module")
def synthetic():
    return load_dataset("synthetic", num_train=192, num_test=64)


def test_the_split_is_stratified_disjoint_and_drawn_from_the_split_seed_alone():
    labels = np.repeat(np.arange(10), [50, 40, 30, 30, 30, 30, 30, 30, 30, 20])
    split = validation_split(labels, 0.1, seed=0)
    assert np.array_equal(np.sort(np.concatenate([split.train, split.validation])), np.arange(len(labels)))
    assert np.bincount(labels[split.validation]).tolist() == [5, 4, 3, 3, 3, 3, 3, 3, 3, 2]
    assert np.array_equal(validation_split(labels, 0.1, seed=0).validation, split.validation)
    assert not np.array_equal(validation_split(labels, 0.1, seed=1).validation, split.validation)
    nothing = validation_split(labels, 0.0, seed=0)
    assert np.array_equal(nothing.train, np.arange(len(labels))) and nothing.validation.size == 0
    # every trial of a study shares the split whatever its own seed: the config's seed never enters it
    a = split_of(TrainConfig(dataset="digits", validation_share=0.2, seed=0), load_dataset("digits"))
    b = split_of(TrainConfig(dataset="digits", validation_share=0.2, seed=7), load_dataset("digits"))
    assert np.array_equal(a.validation, b.validation) and len(a.validation) == 269


@pytest.mark.parametrize("share", [-0.1, 0.6, float("nan")])
def test_a_share_out_of_range_is_refused_with_what_was_received(share):
    with pytest.raises(ValueError, match=f"validation_share={share!r}"):
        TrainConfig(validation_share=share)


def test_noise_corrupts_the_training_part_only_and_validation_never_trains(synthetic):
    config = TrainConfig.from_dict(dict(TINY, noise_ratio=0.5, validation_share=0.25))
    split = split_of(config, synthetic)
    labels = training_labels(config, synthetic, split)
    assert np.array_equal(labels[split.validation], synthetic.y_train[split.validation])
    assert 0.35 < np.mean(labels[split.train] != synthetic.y_train[split.train]) < 0.65
    for epoch in range(3):
        order = epoch_order(config, split, epoch, steps_per_epoch=len(split.train) // config.batch_size)
        assert not set(order) & set(split.validation) and len(order) == 4 * 32
    mean = _pixel_mean(synthetic, split)
    np.testing.assert_allclose(mean, synthetic.x_train[split.train].mean(axis=0), atol=1e-4)
    assert _pixel_mean(synthetic, split_of(TrainConfig.from_dict(TINY), synthetic)) is synthetic.pixel_mean()


def test_outcomes_pack_to_a_bit_per_image():
    correct = np.random.default_rng(0).random(10_000) < 0.9
    text = pack_outcomes(correct)
    assert np.array_equal(unpack_outcomes(text, 10_000), correct)
    assert len(np.packbits(correct).tobytes()) == 1250 and pack_outcomes(None) is None


@pytest.mark.slow
@pytest.mark.backend
def test_a_run_scores_its_split_and_records_per_image_outcomes_across_a_resume(synthetic, tmp_path):
    config = dict(TINY, noise_ratio=0.3, validation_share=0.25, split_seed=5)
    unbroken = train(config, dataset=synthetic)
    held_out = len(split_of(TrainConfig.from_dict(config), synthetic).validation)
    for epoch in unbroken.history:
        assert 0 <= epoch["val_error"] <= 1 and epoch["val_loss"] > 0
        assert (epoch["val_error"] * held_out) == pytest.approx(round(epoch["val_error"] * held_out))
    correct = unbroken.test_correct
    assert correct.shape == (64,) and correct.sum() == np.trace(unbroken.confusion)
    assert 1 - correct.mean() == pytest.approx(unbroken.history[-1]["test_error"])

    class Stop(Exception):
        pass

    def stop_after_one(metrics, save):
        save(tmp_path / "ckpt")
        raise Stop

    with pytest.raises(Stop):
        train(config, dataset=synthetic, on_epoch_end=stop_after_one)
    state = json.loads((tmp_path / "ckpt" / "state.json").read_text())
    assert unpack_outcomes(state["test_correct"], 64).sum() == np.trace(np.array(state["confusion"]))
    resumed = train(config, dataset=synthetic, resume_from=tmp_path / "ckpt")
    np.testing.assert_allclose(
        [e["val_loss"] for e in resumed.history], [e["val_loss"] for e in unbroken.history], rtol=1e-4
    )
    assert [e["val_error"] for e in resumed.history] == [e["val_error"] for e in unbroken.history]
    np.testing.assert_array_equal(resumed.test_correct, unbroken.test_correct)

    clean = train(TINY, dataset=synthetic)  # the paper's protocol: no split, no validation metrics
    assert {e["val_error"] for e in clean.history} == {None} and clean.test_correct.shape == (64,)


@pytest.mark.slow
def test_the_recorder_reads_the_outcomes_from_the_final_checkpoint(synthetic, tmp_path):
    from ray import tune

    from ran_core.sweep.recorder import final_outcomes, trial_row

    saved = {}

    def keep(metrics, save):
        save(tmp_path / f"epoch{metrics['epoch']}")
        saved[metrics["epoch"]] = metrics

    result = train(dict(TINY, validation_share=0.25), dataset=synthetic, on_epoch_end=keep)
    checkpoint = tune.Checkpoint.from_directory(str(tmp_path / "epoch2"))
    confusion, correct = final_outcomes(checkpoint, 2)
    assert correct == np.packbits(result.test_correct).tobytes() and sum(confusion) == 64
    assert final_outcomes(checkpoint, 1) == (None, None), "a checkpoint of another epoch says nothing"
    row = trial_row(
        "exp", "search", "t0", dict(TINY, validation_share=0.25), saved[2], None, [saved[2]], (confusion, correct)
    )
    assert row["final_val_error"] == saved[2]["val_error"] and row["test_correct"] == correct
    assert row["validation_share"] == 0.25 and row["split_seed"] == 0
    assert set(row) <= set(TRIALS_SCHEMA.names) and {"val_loss", "val_error"} <= set(EPOCHS_SCHEMA.names)


def test_a_search_must_select_on_a_split_and_optuna_minimises_validation_error():
    from ran_core.sweep.space import Study
    from ran_core.sweep.tuner import metric_for

    search = {"learning_rate": (0.01, 0.3)}
    with pytest.raises(ValueError, match="must choose on a validation split") as error:
        Study("s", search=search, fixed={"dataset": "digits"})
    assert "Received: validation_share=None" in str(error.value)
    with pytest.raises(ValueError, match="Received: validation_share=0"):
        Study("s", search=search, fixed={"dataset": "digits", "validation_share": 0})
    assert metric_for(Study("s", search=search, fixed={"dataset": "digits", "validation_share": 0.2})) == "val_error"
    grid = Study("g", grid={"learning_rate": [0.1]}, fixed={"dataset": "digits"})
    assert metric_for(grid) == "test_error", "a grid keeps the paper's protocol"
    assert metric_for(grid.replace(fixed={"dataset": "digits", "validation_share": 0.1})) == "val_error"


def test_the_flag_asks_a_grid_for_the_split_and_cannot_take_a_searchs_away(tmp_path):
    import importlib.util
    from pathlib import Path

    from ran_core.sweep.config import configure

    def presets(name):
        path = Path(__file__).resolve().parent.parent / "sweeps" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.PRESETS

    out = ["--output", str(tmp_path / "out")]
    grid = configure(presets("depth"), out)
    assert grid.validation_share == 0 and "validation_share" not in grid.study.fixed
    split = configure(presets("depth"), [*out, "--validation-share", "0.1"])
    assert split.study.fixed["validation_share"] == 0.1 and split.result_flags()["validation_share"] == 0.1
    search = configure(presets("search"), out)
    assert search.validation_share == 0.2 and search.study.validation_share == 0.2
    with pytest.raises(ValueError, match="must choose on a validation split"):
        configure(presets("search"), [*out, "--validation-share", "0"])
    with pytest.raises(ValueError, match="validation_share=0.7"):
        configure(presets("depth"), [*out, "--validation-share", "0.7"])
