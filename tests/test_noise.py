"""ran_core.data.noise: sampled labels follow Eq. 7's Q, deterministically, and bad input is refused."""

import numpy as np
import pytest
from scipy import stats

from ran_core.data.noise import noisy_labels, transition_matrix

N = 200_000


@pytest.mark.parametrize("k", [2, 10, 100])
@pytest.mark.parametrize("ratio", [0.0, 0.1, 0.7])
def test_transition_matrix(k, ratio):
    q = transition_matrix(ratio, k)
    assert q.shape == (k, k)
    np.testing.assert_allclose(np.diag(q), 1 - ratio)
    off = q[~np.eye(k, dtype=bool)]
    np.testing.assert_allclose(off, ratio / (k - 1))
    np.testing.assert_allclose(q.sum(axis=1), 1.0)


@pytest.mark.parametrize("k,ratio", [(10, 0.1), (10, 0.3), (10, 0.5), (10, 0.7), (100, 0.3), (100, 0.7), (2, 0.4)])
def test_confusion_matches_q(k, ratio):
    """Counts of (clean, noisy) pairs follow a multinomial with rows of Q: chi-square and diagonal."""
    clean = np.random.default_rng(123).integers(0, k, size=N)
    noisy, flipped = noisy_labels(clean, ratio, k, seed=7)
    counts = np.zeros((k, k))
    np.add.at(counts, (clean, noisy), 1)
    n_row = counts.sum(axis=1, keepdims=True)
    expect = n_row * transition_matrix(ratio, k)
    chi2 = ((counts - expect) ** 2 / expect).sum()
    assert stats.chi2.sf(chi2, df=k * (k - 1)) > 1e-4, chi2
    # kept fraction: within 5 standard errors of r, overall and for every class
    r = 1 - ratio
    kept = np.diag(counts) / n_row[:, 0]
    assert abs(kept @ n_row[:, 0] / N - r) < 5 * np.sqrt(r * (1 - r) / N)
    assert (np.abs(kept - r) < 5 * np.sqrt(r * (1 - r) / n_row[:, 0])).all()
    np.testing.assert_array_equal(flipped, noisy != clean)


def test_one_class_spreads_uniformly_over_the_others():
    clean = np.full(N, 3)
    noisy, flipped = noisy_labels(clean, 0.5, 10, seed=1)
    counts = np.bincount(noisy[flipped], minlength=10)
    assert counts[3] == 0
    others = np.delete(counts, 3)
    assert stats.chisquare(others).pvalue > 1e-4


def test_flip_mask_and_types():
    clean = np.arange(1000) % 10
    noisy, flipped = noisy_labels(clean, 0.5, 10, seed=0)
    assert noisy.dtype == np.int64 and flipped.dtype == bool
    assert noisy.shape == flipped.shape == clean.shape
    np.testing.assert_array_equal(flipped, noisy != clean)
    np.testing.assert_array_equal(noisy[~flipped], clean[~flipped])
    assert ((noisy >= 0) & (noisy < 10)).all()


def test_deterministic_per_seed():
    clean = np.arange(5000) % 100
    a, fa = noisy_labels(clean, 0.3, 100, seed=5)
    b, fb = noisy_labels(clean, 0.3, 100, seed=5)
    c, _ = noisy_labels(clean, 0.3, 100, seed=6)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fa, fb)
    assert not np.array_equal(a, c)


def test_input_not_mutated_and_read_only_ok():
    clean = (np.arange(1000) % 10).astype(np.uint8)
    clean.flags.writeable = False
    before = clean.copy()
    noisy, _ = noisy_labels(clean, 0.5, 10, seed=0)
    np.testing.assert_array_equal(clean, before)
    assert noisy is not clean and noisy.dtype == np.int64
    as_list, _ = noisy_labels(clean.tolist(), 0.5, 10, seed=0)
    np.testing.assert_array_equal(as_list, noisy)


def test_zero_ratio_is_identity():
    clean = np.arange(300) % 10
    noisy, flipped = noisy_labels(clean, 0.0, 10, seed=0)
    np.testing.assert_array_equal(noisy, clean)
    assert not flipped.any()
    noisy[0] = 9
    assert clean[0] == 0  # a new array, not a view


def test_empty_labels():
    noisy, flipped = noisy_labels(np.array([], np.int64), 0.5, 10, seed=0)
    assert noisy.shape == flipped.shape == (0,)


@pytest.mark.parametrize("ratio", [1.0, 1, -0.1, float("nan"), float("inf"), True, "0.1", None])
def test_bad_ratio(ratio):
    with pytest.raises(ValueError, match=r"noise_ratio.*\[0, 1\).*Received: noise_ratio="):
        noisy_labels([0, 1], ratio, 10, seed=0)
    with pytest.raises(ValueError, match="noise_ratio"):
        transition_matrix(ratio, 10)


@pytest.mark.parametrize("k", [1, 0, -3, 10.0, "10", True, None])
def test_bad_num_classes(k):
    with pytest.raises(ValueError, match=r"num_classes.*Received: num_classes="):
        noisy_labels([0, 1], 0.1, k, seed=0)
    with pytest.raises(ValueError, match="num_classes"):
        transition_matrix(0.1, k)


@pytest.mark.parametrize(
    "labels,match",
    [
        (np.zeros((2, 2), np.int64), r"1-D.*shape=\(2, 2\)"),
        (np.array([0.0, 1.0]), "integers.*float64"),
        (np.array([True, False]), "integers.*bool"),
        (["a", "b"], "integers"),
        (np.array([0, 10]), r"\[0, num_classes=10\).*\[0, 10\]"),
        (np.array([-1, 3]), r"\[-1, 3\]"),
        (5, "1-D"),
    ],
)
def test_bad_labels(labels, match):
    with pytest.raises(ValueError, match=match):
        noisy_labels(labels, 0.1, 10, seed=0)


@pytest.mark.parametrize("seed", [None, 1.5, "1", -1, True])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match=r"seed.*Received: seed="):
        noisy_labels([0, 1], 0.1, 10, seed=seed)


def test_numpy_scalars_accepted():
    noisy, _ = noisy_labels(np.array([0, 1, 2]), np.float32(0.5), np.int64(3), seed=np.int32(1))
    assert noisy.shape == (3,)
