"""Model family: shapes, gradients, attention types, learning modes, sizes, saving, bad input."""

import re

import keras
import numpy as np
import pytest

from ran_core.model.architectures import MODELS, PAPER_PARAMS_M, list_models
from ran_core.model.builder import build_model
from ran_core.model.layers import AttentionMerge, AttentionModule, MaskActivation

SMALL = dict(width=0.125)
LOSS = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def trainable_count(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_variables)


def images(n=4, seed=0, shape=(32, 32, 3)):
    return np.random.default_rng(seed).normal(size=(n, *shape)).astype("float32")


def _deep_ones_slow(names):
    """The smaller networks stay in the fast tier; the deeper ones (more of the same modules, and
    attention452's p, t, r = 2, 4, 3) cost 5-20 s each to build or step on a CPU and run in the slow tier."""
    deep = {"attention128", "attention164", "attention236", "attention452"}
    return [pytest.param(name, marks=pytest.mark.slow) if name in deep else name for name in names]


@pytest.mark.backend
@pytest.mark.parametrize("name", _deep_ones_slow(list_models()))
def test_forward_and_every_variable_gets_a_gradient(name):
    keras.utils.set_random_seed(0)
    model = build_model(name, num_classes=10, **SMALL)
    x, y = images(), np.array([0, 1, 2, 3])
    logits = model(x, training=False)
    assert logits.shape == (4, 10) and keras.backend.standardize_dtype(logits.dtype) == "float32"
    logits = keras.ops.convert_to_numpy(logits)
    assert np.all(np.isfinite(logits))
    assert not np.allclose(logits.sum(axis=1), 1.0), "the output is logits, not probabilities"

    # Plain SGD with lr 1 and no weight decay: a variable moves iff its gradient is non-zero.
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss=LOSS, run_eagerly=True)
    before = [keras.ops.convert_to_numpy(v).copy() for v in model.trainable_variables]
    model.train_on_batch(x, y)
    dead = [
        v.path for v, b in zip(model.trainable_variables, before) if np.array_equal(keras.ops.convert_to_numpy(v), b)
    ]
    assert not dead, f"{len(dead)} variables got no gradient, e.g. {dead[:5]}"


@pytest.mark.backend
@pytest.mark.filterwarnings("ignore:Gradients do not exist")  # the point of this test
def test_a_dead_mask_branch_is_caught():
    # Guard on the guard above: with the mask's output cut off, its variables get no gradient.
    model = build_model("attention56", **SMALL)
    module = model.get_layer("stage1_attention1")
    module.merge.call = lambda inputs: inputs[0]  # ignore the mask
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss=LOSS, run_eagerly=True)
    mask_vars = module.mask.trainable_variables
    before = [keras.ops.convert_to_numpy(v).copy() for v in mask_vars]
    model.train_on_batch(images(), np.array([0, 1, 2, 3]))
    assert all(np.array_equal(keras.ops.convert_to_numpy(v), b) for v, b in zip(mask_vars, before))


def mask_of(attention_type, x):
    return keras.ops.convert_to_numpy(MaskActivation(attention_type)(x)).astype("float64")


@pytest.mark.backend
def test_mixed_attention_lies_in_open_unit_interval():
    m = mask_of("mixed", images(shape=(8, 8, 16)) * 3)
    assert np.all((m > 0) & (m < 1))


@pytest.mark.backend
def test_channel_attention_has_unit_norm_across_channels():
    m = mask_of("channel", images(shape=(8, 8, 16)))
    np.testing.assert_allclose(np.linalg.norm(m, axis=-1), 1.0, rtol=1e-5)
    assert np.any(m < 0), "channel attention has no sigmoid: negative values survive"


@pytest.mark.backend
def test_spatial_attention_is_sigmoid_of_a_standardised_map():
    x = images(shape=(8, 8, 16)) * 5 + 3
    m = mask_of("spatial", x)
    logits = np.log(m / (1 - m))
    np.testing.assert_allclose(logits.mean(axis=(1, 2)), 0.0, atol=1e-4)
    np.testing.assert_allclose(logits.var(axis=(1, 2)), 1.0, rtol=1e-3)


@pytest.mark.backend
def test_learning_modes_with_a_zero_mask():
    trunk = images(n=2, shape=(4, 4, 8))
    zero = np.zeros_like(trunk)
    arl = keras.ops.convert_to_numpy(AttentionMerge("arl")([trunk, zero]))
    nal = keras.ops.convert_to_numpy(AttentionMerge("NAL")([trunk, zero]))
    np.testing.assert_array_equal(arl, trunk)
    np.testing.assert_array_equal(nal, np.zeros_like(trunk))
    half = keras.ops.convert_to_numpy(AttentionMerge("arl")([trunk, zero + 0.5]))
    np.testing.assert_allclose(half, 1.5 * trunk, rtol=1e-6)


@pytest.mark.parametrize("attention_type", ["mixed", "channel", "spatial"])
@pytest.mark.parametrize("learning_mode", ["arl", "nal"])
def test_type_and_mode_reach_every_module(attention_type, learning_mode):
    model = build_model("attention92", attention_type=attention_type.upper(), learning_mode=learning_mode, **SMALL)
    modules = [layer for layer in model.layers if isinstance(layer, AttentionModule)]
    assert len(modules) == 6
    assert {m.mask.activation.attention_type for m in modules} == {attention_type}
    assert {m.merge.learning_mode for m in modules} == {learning_mode}


def test_depth_table_matches_the_names():
    for name, spec in MODELS.items():
        assert spec.depth == int(name.removeprefix("attention").removeprefix("resnet")), name
        if name.startswith("attention") and (spec.p, spec.t) == (1, 2):
            m = spec.modules_per_stage[0]
            assert spec.depth == 36 * m + 20
    assert (MODELS["attention452"].p, MODELS["attention452"].t, MODELS["attention452"].r) == (2, 4, 3)


@pytest.mark.parametrize("name", _deep_ones_slow(sorted(PAPER_PARAMS_M)))
def test_parameter_counts_match_the_paper(name):
    params = trainable_count(build_model(name, num_classes=10))
    assert abs(params / 1e6 - PAPER_PARAMS_M[name]) <= 0.05 * PAPER_PARAMS_M[name], params


def test_named_and_explicit_depths():
    assert [m.name for m in build_model("attention200", **SMALL).layers if isinstance(m, AttentionModule)][
        -1
    ] == "stage3_attention5"
    model = build_model("attention", modules_per_stage=(1, 2, 3), **SMALL)
    counts = [
        sum(isinstance(layer, AttentionModule) and layer.name.startswith(f"stage{s}") for layer in model.layers)
        for s in (1, 2, 3)
    ]
    assert counts == [1, 2, 3]
    assert model.name == "attention92"


def test_width_scales_channels():
    small, paper = build_model("attention56", width=0.25), build_model("attention56")
    assert trainable_count(small) < trainable_count(paper) / 10
    assert small.get_layer("stage3_unit2").filters == 64


@pytest.mark.backend
@pytest.mark.parametrize("name,attention_type", [("attention56", "spatial"), ("resnet56", "mixed")])
def test_save_and_load_give_identical_outputs(tmp_path, name, attention_type):
    model = build_model(name, num_classes=7, attention_type=attention_type, learning_mode="nal", **SMALL)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=LOSS)
    x = images(n=8)
    model.fit(x, np.arange(8) % 7, epochs=1, verbose=0)  # move BN statistics off their defaults
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x, training=False)),
        keras.ops.convert_to_numpy(model(x, training=False)),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(name="vgg16"), "Unknown model"),
        (dict(name="attention100"), "36m + 20"),
        (dict(name="attention56", attention_type="soft"), "attention_type='soft'"),
        (dict(name="attention56", learning_mode="residual"), "learning_mode='residual'"),
        (dict(name="attention56", width=0), "width=0"),
        (dict(name="attention56", width=-0.5), "width=-0.5"),
        (dict(name="attention56", input_shape=(4, 4, 3)), "too small"),
        (dict(name="attention56", input_shape=(32, 32)), "input_shape=(32, 32)"),
        (dict(name="attention56", num_classes=1), "num_classes=1"),
        (dict(name="attention56", modules_per_stage=(1, 0, 1)), "modules_per_stage=(1, 0, 1)"),
        (dict(name="resnet56", modules_per_stage=(1, 1, 1)), "Attention models only"),
        (dict(name="attention56", mask_pools=(3, 2)), "mask_pools=(3, 2)"),
    ],
)
def test_bad_input_fails_at_build_time(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        build_model(**kwargs)
    assert "Received" in str(error.value) or "Expected" in str(error.value)
