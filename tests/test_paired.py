"""The scorecard's interval (ran_core.analysis.paired) on simulated studies with a known effect.

A simulated study trains two models with the same m seeds and scores them on the same N test
images drawn from a population: image i is hard for both (a shared difficulty) and for each model
in its own way; seed s shifts both models (correlated, as shared noisy labels would); and, given
all that, whether a model errs on an image is a coin flip that the two models share part of the
time. The true effect is the difference of the two models' error rates over the whole population
of images and seeds, computed exactly (one logistic-normal integral per model). Vectorised: a few
thousand studies take about a second.
"""

import numpy as np
import pytest
from scipy import special

from ran_core.analysis.paired import class_sampling_variance, effect_interval, holm

CORRELATED = dict(difficulty=1.5, model_image_sd=0.7, seed_sd=0.25, seed_corr=0.8, shared_draw=0.8)
INDEPENDENT = dict(difficulty=0.0, model_image_sd=0.7, seed_sd=0.25, seed_corr=0.0, shared_draw=0.0)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _population_error(base, scale):
    """E[sigmoid(base + scale * Z)], Z standard normal (Gauss-Hermite, exact to float precision)."""
    x, w = np.polynomial.hermite_e.hermegauss(200)
    return float((w * _sigmoid(base + scale * x)).sum() / w.sum())


def simulate(
    rng, studies, seeds, images, *, base=(-3.0, -2.7), difficulty, model_image_sd, seed_sd, seed_corr, shared_draw
):
    """Mistakes of models A and B (bool [studies, seeds, images]) and the true effect, B's error minus A's."""
    hard = difficulty * rng.normal(size=(studies, 1, images))
    common_seed = rng.normal(size=(studies, seeds, 1))
    shared = rng.random((studies, seeds, images))
    mistakes = []
    for b in base:
        own_image = model_image_sd * rng.normal(size=(studies, 1, images))
        own_seed = rng.normal(size=(studies, seeds, 1))
        seed = seed_sd * (np.sqrt(seed_corr) * common_seed + np.sqrt(1 - seed_corr) * own_seed)
        draw = np.where(
            rng.random((studies, seeds, images)) < shared_draw, shared, rng.random((studies, seeds, images))
        )
        mistakes.append(draw < _sigmoid(b + hard + own_image + seed))
    scale = np.sqrt(difficulty**2 + model_image_sd**2 + seed_sd**2)
    return mistakes[0], mistakes[1], _population_error(base[1], scale) - _population_error(base[0], scale)


def paired_interval(a, b):
    """The scorecard's interval with per-image outcomes."""
    x = b.astype(np.float64) - a
    return effect_interval(x.mean(axis=-1), x)


def confusion_fallback(a, b):
    """The scorecard's fallback without per-image outcomes: seeds paired, each trial's images
    resampled independently (one class here, so binomial)."""
    m, n = a.shape[-2:]
    ea, eb = a.mean(axis=-1), b.mean(axis=-1)
    independent = ((ea * (1 - ea) + eb * (1 - eb)) / n).sum(axis=-1) / m**2
    return effect_interval(eb - ea, None, independent)


def unpaired(a, b, level=0.95):
    """The two cells analysed as independent samples (what the scorecard did before pairing):
    each cell's spread over its seeds plus its images' binomial variance, Welch's degrees of freedom."""
    m, n = a.shape[-2:]
    parts, seed_parts = [], []
    for cell in (a, b):
        errors = cell.mean(axis=-1)
        seed_parts.append(errors.var(axis=-1, ddof=1) / m)
        parts.append(seed_parts[-1] + (errors * (1 - errors)).mean(axis=-1) / n / m)
    variance = parts[0] + parts[1]
    dof = variance**2 / sum(v**2 / (m - 1) for v in seed_parts)
    value = b.mean(axis=(-2, -1)) - a.mean(axis=(-2, -1))
    half = special.stdtrit(dof, 0.5 + level / 2) * np.sqrt(variance)
    return value - half, value + half


def coverage(low, high, truth):
    return float(np.mean((low <= truth) & (truth <= high)))


@pytest.mark.parametrize(
    "scenario,seeds,images",
    [(CORRELATED, 3, 1000), (INDEPENDENT, 5, 450)],
    ids=["correlated-3-seeds-1000-images", "independent-5-seeds-450-images"],
)
def test_the_95_percent_interval_covers_the_true_effect_93_to_97_percent_of_the_time(scenario, seeds, images):
    a, b, truth = simulate(np.random.default_rng(0), 4000, seeds, images, **scenario)
    interval = paired_interval(a, b)
    covered = coverage(interval.low, interval.high, truth)
    print(f"\ncoverage over 4000 simulated studies ({seeds} seeds, {images} images): {covered:.4f}")
    assert 0.93 <= covered <= 0.97
    assert np.allclose(interval.value, b.mean(axis=(-2, -1)) - a.mean(axis=(-2, -1)))
    # p < 0.05 exactly when the interval misses 0
    assert np.array_equal(interval.p < 0.05, (interval.low > 0) | (interval.high < 0))


def test_pairing_narrows_the_interval_when_outcomes_are_correlated():
    a, b, truth = simulate(np.random.default_rng(1), 4000, 3, 1000, **CORRELATED)
    interval = paired_interval(a, b)
    low, high = unpaired(a, b)
    paired_width, unpaired_width = np.median(interval.high - interval.low), np.median(high - low)
    print(f"\nmedian width, paired {100 * paired_width:.2f} pp, unpaired {100 * unpaired_width:.2f} pp")
    assert paired_width < 0.75 * unpaired_width
    assert coverage(low, high, truth) > 0.98, "the unpaired interval is needlessly wide here"


def test_without_per_image_outcomes_the_fallback_errs_on_the_wide_side():
    a, b, truth = simulate(np.random.default_rng(2), 4000, 3, 1000, **CORRELATED)
    fallback = confusion_fallback(a, b)
    covered = coverage(fallback.low, fallback.high, truth)
    print(f"\nfallback coverage: {covered:.4f}")
    assert covered >= 0.95


def test_one_seed_covers_test_images_only_and_no_variance_gives_the_point():
    x = np.zeros((1, 200))
    x[0, :20] = 1.0  # 10 points worse on one seed
    one = effect_interval(x.mean(axis=-1), x)
    assert one.value == pytest.approx(0.1) and one.low < 0.1 < one.high and one.dof == pytest.approx(199)
    fixed = effect_interval(np.array([0.02, 0.02, 0.02]))
    assert (fixed.low, fixed.high, fixed.p) == (pytest.approx(0.02), pytest.approx(0.02), 0.0)
    assert effect_interval(np.zeros(3)).p == 1.0


def test_class_sampling_variance_is_binomial_within_each_class():
    confusion = np.array([[90, 10], [20, 80]])
    expected = (100 * 0.1 * 0.9 + 100 * 0.2 * 0.8) / 200**2
    assert class_sampling_variance(confusion) == pytest.approx(expected)


def test_holm_adjusts_step_down_and_keeps_nan():
    adjusted = holm([0.01, 0.04, np.nan, 0.03, 0.5])
    # sorted 0.01, 0.03, 0.04, 0.5 of n = 4: x4, x3, x2, x1, made non-decreasing
    assert adjusted[[0, 3, 1, 4]].tolist() == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert np.isnan(adjusted[2])
    assert holm([0.9, 0.8]).tolist() == [1.0, 1.0] and holm([]).size == 0
