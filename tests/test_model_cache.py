"""A compiled model reused by a later run of the same architecture trains exactly as a fresh one."""

import numpy as np
import pytest

from ran_core.data import load_dataset
from ran_core.training import model_cache
from ran_core.training.loop import train

RUN = dict(model="attention56", width=0.0625, dataset="synthetic", batch_size=32, epochs=3, learning_rate=0.05, seed=3)
# Differs from RUN in every field a cached model takes as state, so a reset that forgot one shows.
OTHER = dict(
    RUN,
    seed=11,
    learning_rate=0.3,
    weight_decay=1e-3,
    momentum=0.5,
    lr_drops=(0.2, 0.5),
    noise_ratio=0.4,
    validation_share=0.25,  # also another pixel mean: the training part's
    split_seed=4,
)


@pytest.fixture(scope="module")
def synthetic():
    return load_dataset("synthetic", num_train=192, num_test=64)


def losses(result):
    columns = ("train_loss", "train_accuracy", "test_loss", "learning_rate")
    return np.array([[epoch[c] for c in columns] for epoch in result.history])


@pytest.mark.slow
@pytest.mark.backend
def test_a_reused_model_gives_the_fresh_result_and_skips_compilation(synthetic):
    model_cache.clear()
    model_cache.stats.clear()
    fresh = train(RUN, dataset=synthetic)
    other = train(OTHER, dataset=synthetic)  # a seed the cached model never saw
    again = train(RUN, dataset=synthetic)
    assert model_cache.stats == {"misses": 1, "hits": 2}
    np.testing.assert_array_equal(losses(again), losses(fresh))
    np.testing.assert_array_equal(again.confusion, fresh.confusion)
    np.testing.assert_array_equal(again.test_correct, fresh.test_correct)
    assert not np.array_equal(losses(other)[:, :3], losses(fresh)[:, :3])
    assert [h["learning_rate"] for h in other.history] == pytest.approx([0.03, 0.003, 0.003])
    model_cache.clear()
    other_fresh = train(OTHER, dataset=synthetic)
    np.testing.assert_array_equal(losses(other), losses(other_fresh))
    np.testing.assert_array_equal(other.confusion, other_fresh.confusion)
    assert [h["val_error"] for h in other.history] == [h["val_error"] for h in other_fresh.history]


@pytest.mark.slow
@pytest.mark.backend
def test_a_run_resumed_into_a_reused_model_matches_an_unbroken_one(synthetic, tmp_path):
    model_cache.clear()
    unbroken = train(RUN, dataset=synthetic)

    class Stop(Exception):
        pass

    def stop_after_first_epoch(metrics, save):
        save(tmp_path / "ckpt")
        raise Stop

    with pytest.raises(Stop):
        train(RUN, dataset=synthetic, on_epoch_end=stop_after_first_epoch)
    hits = model_cache.stats["hits"]
    resumed = train(RUN, dataset=synthetic, resume_from=tmp_path / "ckpt")
    assert model_cache.stats["hits"] == hits + 1
    np.testing.assert_allclose(losses(resumed), losses(unbroken), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_another_architecture_or_batch_compiles_its_own_and_capacity_bounds_the_cache(synthetic, monkeypatch):
    model_cache.clear()
    model_cache.stats.clear()
    monkeypatch.setenv("RAN_MODEL_CACHE", "1")
    short = dict(RUN, epochs=1)
    train(short, dataset=synthetic)
    train(dict(short, width=0.125), dataset=synthetic)  # evicts the first (capacity 1)
    train(short, dataset=synthetic)
    train(dict(short, batch_size=16), dataset=synthetic)
    assert model_cache.stats == {"misses": 4}
    monkeypatch.setenv("RAN_MODEL_CACHE", "several")
    with pytest.raises(ValueError, match="RAN_MODEL_CACHE must be a whole number.*'several'"):
        train(short, dataset=synthetic)
