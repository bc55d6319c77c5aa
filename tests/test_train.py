"""Training: config validation, augmentation, the recipe's schedule, noisy runs, resume, CLI."""

import dataclasses
import json
import re

import keras
import numpy as np
import pytest

from ran_core.data import load_dataset
from ran_core.model.builder import build_model
from ran_core.model.preprocess import Preprocess
from ran_core.training.checkpoints import WEIGHTS_FILE, load_checkpoint
from ran_core.training.cli import main
from ran_core.training.config import TrainConfig
from ran_core.training.engine import choose_steps_per_execution, evaluation_sums
from ran_core.training.loop import check_batch_size, train
from ran_core.training.model_cache import compiled_model

TINY = dict(model="attention56", width=0.125, dataset="synthetic", batch_size=32, epochs=3, learning_rate=0.05, seed=3)


@pytest.fixture(scope="module")
def synthetic():
    return load_dataset("synthetic", num_train=192, num_test=64)


@pytest.mark.parametrize(
    "values,message",
    [
        (dict(modle="attention56"), "Unknown config keys ['modle']"),
        (dict(noise_ratio=1.0), "noise_ratio=1.0"),
        (dict(noise_ratio=-0.1), "noise_ratio=-0.1"),
        (dict(epochs=0), "epochs=0"),
        (dict(batch_size=2.5), "batch_size=2.5"),
        (dict(learning_rate=0), "learning_rate=0"),
        (dict(precision="fp16"), "precision='fp16'"),
        (dict(dataset="imagenet"), "dataset='imagenet'"),
        (dict(model="attention57"), "36m + 20"),
        (dict(attention_type="local"), "attention_type='local'"),
        (dict(lr_drops=(0.6, 0.4)), "lr_drops=(0.6, 0.4)"),
        (dict(augment="yes"), "augment='yes'"),
    ],
)
def test_bad_config_is_rejected_with_what_was_received(values, message):
    with pytest.raises(ValueError) as error:
        TrainConfig.from_dict(values)
    assert message in str(error.value)


def test_config_normalises_names_and_drops_attention_settings_for_resnets():
    config = TrainConfig.from_dict(
        dict(model="ResNet164", attention_type="mixed", dataset="CIFAR10", batch_size=np.int64(128))
    )
    assert (config.model, config.attention_type, config.learning_mode) == ("resnet164", None, None)
    assert config.dataset == "cifar10" and config.batch_size == 128 and type(config.batch_size) is int
    assert TrainConfig(model="attention92", attention_type="SPATIAL").attention_type == "spatial"


@pytest.mark.backend
def test_augmentation_is_a_padded_crop_maybe_flipped_and_inference_only_subtracts_the_mean():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(16, 32, 32, 3), dtype=np.uint8)
    mean = images.mean(axis=0)
    layer = Preprocess(mean, seed=1)
    expected = (images.astype("float32") - mean) / 255.0
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(images, training=False)), expected, atol=1e-6)

    out = keras.ops.convert_to_numpy(layer(images, training=True))
    padded = np.pad(expected, [(0, 0), (4, 4), (4, 4), (0, 0)])
    offsets = set()
    for i in range(len(images)):
        matches = [
            (dy, dx, flip)
            for dy in range(9)
            for dx in range(9)
            for flip in (False, True)
            if np.allclose(
                out[i], (lambda w: w[:, ::-1] if flip else w)(padded[i, dy : dy + 32, dx : dx + 32]), atol=1e-6
            )
        ]
        assert matches, f"image {i} is not a 32x32 window of the padded image"
        offsets.add(matches[0])
    assert len(offsets) > 4, "crops and flips should vary across a batch"
    again = keras.ops.convert_to_numpy(layer(images, training=True))
    assert not np.allclose(again, out), "each call draws new crops"


@pytest.mark.backend
def test_evaluation_sums_give_cross_entropy_from_logits_and_confusion_ignoring_padding():
    logits = np.array([[2.0, 0.0], [0.5, 1.0], [3.0, -1.0], [9.0, 9.0]], dtype="float32")
    labels = np.array([0, 1, 1, 0])
    weights = np.array([1, 1, 1, 0], dtype="float32")  # the last row is padding
    loss, confusion = (keras.ops.convert_to_numpy(t) for t in evaluation_sums(logits, labels, weights, 2))
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    assert loss == pytest.approx(-log_probs[[0, 1, 2], labels[:3]].sum(), rel=1e-6)
    assert confusion.tolist() == [[1, 0], [1, 1]]


def test_steps_per_execution_is_chosen_on_accelerators_and_respected_when_set():
    assert choose_steps_per_execution(0, 390, accelerator=True) == 30  # largest divisor of 390 up to 32
    assert choose_steps_per_execution(0, 390, accelerator=False) == 1
    assert choose_steps_per_execution(7, 390) == 7
    assert choose_steps_per_execution(64, 5) == 5


@pytest.mark.slow
@pytest.mark.backend
def test_schedule_noise_metrics_and_resume_to_the_same_result(synthetic, tmp_path):
    # Resuming does not depend on the model: the smallest network keeps this test cheap.
    config = dict(TINY, model="resnet56", width=0.0625, noise_ratio=0.3, epochs=3, lr_drops=(0.34, 0.67))
    full = train(config, dataset=synthetic, verbose=0)
    assert [m["epoch"] for m in full.history] == [1, 2, 3]
    # The rate of each epoch's last step: divided by 10 after 34% and 67% of the 18 steps.
    assert [m["learning_rate"] for m in full.history] == pytest.approx([0.05, 0.005, 0.0005])
    assert all(0 <= m["clean_train_accuracy"] <= 1 for m in full.history)
    assert 0.2 < full.history[0]["realised_noise_ratio"] < 0.4  # 30% asked, 192 labels drawn
    assert full.confusion.sum() == len(synthetic.y_test)
    network = build_model("resnet56", num_classes=synthetic.num_classes, width=0.0625)
    assert full.params == sum(int(np.prod(v.shape)) for v in network.trainable_variables)

    class Stop(Exception):
        pass

    def stop_after_two(metrics, save):
        if metrics["epoch"] == 2:
            raise Stop

    with pytest.raises(Stop):
        train(config, dataset=synthetic, checkpoint_dir=tmp_path, on_epoch_end=stop_after_two, verbose=0)
    assert (tmp_path / "latest").read_text() == "epoch_0002"
    resumed = train(config, dataset=synthetic, resume_from=tmp_path, checkpoint_dir=tmp_path, verbose=0)
    assert [m["epoch"] for m in resumed.history] == [1, 2, 3]
    keys = ("train_loss", "train_accuracy", "clean_train_accuracy", "test_loss", "test_accuracy")
    for key in keys:
        np.testing.assert_allclose(
            [m[key] for m in resumed.history], [m[key] for m in full.history], rtol=1e-4, atol=1e-5, err_msg=key
        )
    gap = max(abs(a[k] - b[k]) for a, b in zip(resumed.history, full.history) for k in keys)
    print(f"\nresume vs uninterrupted ({keras.backend.backend()}): largest metric difference {gap:.3g}")
    with pytest.raises(ValueError, match="another config"):
        train(dict(config, learning_rate=0.1), dataset=synthetic, resume_from=tmp_path, verbose=0)
    with pytest.raises(ValueError, match="does not fit this model: variable stem"):
        train(dict(config, width=0.125), dataset=synthetic, resume_from=tmp_path, verbose=0)

    # A folder without the variables file (e.g. a Keras .h5 checkpoint of an older version) is refused.
    latest = tmp_path / (tmp_path / "latest").read_text()
    (latest / WEIGHTS_FILE).unlink()
    train_config = TrainConfig.from_dict(config)
    targets = np.zeros((len(synthetic.y_train), 2), "int32")
    model = compiled_model(train_config, synthetic, targets, check_batch_size(train_config, synthetic))[0]
    with pytest.raises(FileNotFoundError, match="variables.npz is missing"):
        load_checkpoint(model, tmp_path)


@pytest.mark.slow
@pytest.mark.backend
def test_clean_runs_report_no_clean_accuracy_and_checkpoints_reach_the_callback(synthetic, tmp_path):
    seen = []

    def on_epoch_end(metrics, save):
        save(tmp_path / f"ckpt{metrics['epoch']}")
        seen.append(metrics)

    train(dict(TINY, model="resnet56", epochs=2), dataset=synthetic, on_epoch_end=on_epoch_end, verbose=0)
    assert [m["clean_train_accuracy"] for m in seen] == [None, None]
    assert [m["realised_noise_ratio"] for m in seen] == [0.0, 0.0]
    state = json.loads((tmp_path / "ckpt2" / "state.json").read_text())
    assert state["epoch"] == 2 and (tmp_path / "ckpt2" / WEIGHTS_FILE).exists()


def test_cli_trains_and_rejects_bad_flags(tmp_path, capsys):
    out = tmp_path / "run.json"
    assert (
        main(
            [
                "--model",
                "resnet56",
                "--width",
                "0.125",
                "--dataset",
                "digits",
                "--epochs",
                "1",
                "--batch-size",
                "128",
                "--json",
                str(out),
                "--verbose",
                "0",
            ]
        )
        == 0
    )
    assert json.loads(out.read_text())["history"][0]["epoch"] == 1
    assert "test accuracy" in capsys.readouterr().out
    assert main(["--model", "attention56", "--noise-ratio", "1.5"]) == 2
    assert "noise_ratio=1.5" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags,message",
    [
        (["--dataset", "cifar10", "--data-dir", "{tmp}/no_such_folder"], "no_such_folder"),
        (["--dataset", "digits", "--batch-size", "2000"], "batch_size=2000 exceeds"),
        (["--dataset", "digits", "--json", "{tmp}/file.txt/run.json"], "--json"),
        (["--dataset", "digits", "--json", "{tmp}"], "--json must name a file"),
        (["--dataset", "digits", "--checkpoint-dir", "{tmp}/file.txt"], "--checkpoint-dir must name a folder"),
        (["--dataset", "digits", "--checkpoint-dir", "/proc/ran_ckpt"], "not writable"),
        (["--dataset", "digits", "--mask-pools", "3", "2"], "mask_pools=[3, 2]"),
    ],
)
def test_cli_rejects_bad_data_batch_and_outputs_before_training(tmp_path, capsys, flags, message):
    (tmp_path / "file.txt").write_text("not a folder")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert main([f.format(tmp=tmp_path) for f in flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before, "nothing written"


def test_every_cli_flag_has_help_with_its_default(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    entries = re.split(r"\n  (?=-)", capsys.readouterr().out)  # one entry per option
    for field in dataclasses.fields(TrainConfig):
        flag = "--" + field.name.replace("_", "-")
        entry = " ".join(next((e for e in entries if e.startswith(flag)), "").split())
        assert "(default:" in entry, f"{flag} has no help with its default: {entry!r}"


def test_mask_pools_is_a_config_field_that_reaches_the_model(synthetic):
    from ran_core.training.recipe import build_training_model

    assert TrainConfig().mask_pools == (3, 2, 1)
    assert TrainConfig(model="resnet56").mask_pools is None
    config = TrainConfig.from_dict(dict(TINY, mask_pools=[1, 1, 1]))
    _, network = build_training_model(config, 10, synthetic.pixel_mean())
    assert {network.get_layer(f"stage{s}_attention1").mask.pools for s in (1, 2, 3)} == {1}


@pytest.mark.slow
@pytest.mark.backend
def test_mixed_bfloat16_trains_with_a_float32_classifier(synthetic):
    from ran_core.training.recipe import build_training_model

    config = TrainConfig.from_dict(dict(TINY, epochs=1, precision="mixed_bfloat16"))
    model, network = build_training_model(config, 10, synthetic.pixel_mean())
    assert network.get_layer("stem_conv").compute_dtype == "bfloat16"
    assert network.get_layer("stage2_attention1").mask.activation.compute_dtype == "bfloat16"
    assert network.get_layer("logits").compute_dtype == "float32"
    assert keras.config.dtype_policy().name == "float32", "the global policy is restored after building"
    result = train(config, dataset=synthetic, verbose=0)
    assert np.isfinite(result.history[0]["train_loss"]) and np.isfinite(result.history[0]["test_loss"])
