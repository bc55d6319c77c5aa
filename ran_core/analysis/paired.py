"""Paired effects: a weighted sum of test errors over cells, measured on the training seeds every
cell shares, with an interval over both things a result is drawn from: the seeds and the test images.

Two networks trained with the same seed see the same noisy labels, and every network is scored on
the same test images, so an effect is measured per seed and per image: for seed s and image i,
x[s, i] = sum over cells j of weight_j * (1 if trial (j, s) got image i wrong). The effect is the
mean of x; its variance has three parts (a crossed seeds x images design):

    Var = var_images / N + var_seeds / m + var_residual / (m N)

Each is estimated from x (an analysis of variance of the m x N table): the spread of the per-image
means over images gives var_images / N + var_residual / (m N); the spread of the per-seed effects
over seeds gives var_seeds / m + var_residual / (m N); the table's residual gives
var_residual / (m N), counted once (resampling seeds and images together would count it twice;
Owen 2007, "The pigeonhole bootstrap"). The seed part is kept at or above zero. The interval is
Student's t with Satterthwaite's degrees of freedom, so with few seeds it is as wide as their
spread warrants (t at 2 degrees of freedom is 4.30, not 1.96).

Why not a percentile bootstrap resampling seeds and images jointly: measured on simulated paired
outcomes with 3 seeds, its 95% interval covered the true effect 82% to 99.7% of the time depending
on how the variance splits between seeds and images (too narrow when seeds dominate: three seeds
resampled have at most 10 distinct means; too wide when the residual dominates). This interval
covered 93% to 98% in the same settings, widest (most conservative) when seeds add nothing beyond
their per-image noise; tests/test_paired.py holds two settings to 93-97% (95.2% and 96.0%).

Trials without per-image outcomes (rows recorded before them) fall back to their confusion
matrix: each trial's test error varies as class-by-class binomial sampling, independently of the
other trials (`independent_var`), which ignores the pairing of images; the per-seed spread still
pairs the seeds. That errs on the wide side when the cells' mistakes fall on the same images, as
they do for two networks on one test set, though with weights of one sign on correlated cells it
is not guaranteed to.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import special

__all__ = ["Interval", "class_sampling_variance", "effect_interval", "holm"]


@dataclasses.dataclass(frozen=True)
class Interval:
    """An effect's `value`, its `level` interval [low, high], standard error, degrees of freedom
    and the two-sided p-value of "no effect"; numpy arrays shaped like the batch they came from."""

    value: np.ndarray
    low: np.ndarray
    high: np.ndarray
    se: np.ndarray
    dof: np.ndarray
    p: np.ndarray


def effect_interval(per_seed, image_mistakes=None, independent_var=0.0, level=0.95) -> Interval:
    """The interval of a paired effect, vectorised over leading dimensions.

    per_seed: [..., m] the effect measured on each shared seed (sum of weight * test error).
    image_mistakes: [..., m, N] or None: x[s, i] above, from the trials' per-image outcomes (a
        trial held at a fixed error, e.g. a diverged one, adds that constant to every image).
    independent_var: [...] the variance of the effect due to trials whose test errors are
        resampled from their confusion matrices, independently (`class_sampling_variance`,
        times (weight / m) ** 2, summed).
    """
    per_seed = np.asarray(per_seed, dtype=np.float64)
    m = per_seed.shape[-1]
    value = per_seed.mean(axis=-1)
    seeds_var = per_seed.var(axis=-1, ddof=1) / m if m > 1 else np.zeros_like(value)
    images_var, residual_var, denominator = np.zeros_like(value), np.zeros_like(value), np.zeros_like(value)
    if m > 1:
        denominator = denominator + seeds_var**2 / (m - 1)
    if image_mistakes is not None:
        x = np.asarray(image_mistakes, dtype=np.float64)
        n = x.shape[-1]
        by_image = x.mean(axis=-2)
        images_var = by_image.var(axis=-1, ddof=1) / n
        denominator = denominator + images_var**2 / (n - 1)
        if m > 1:
            by_seed = x.mean(axis=-1)
            total = ((x - x.mean(axis=(-2, -1), keepdims=True)) ** 2).sum(axis=(-2, -1))
            between_seeds = n * ((by_seed - by_seed.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
            between_images = m * ((by_image - by_image.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
            residual = np.maximum(total - between_seeds - between_images, 0.0)
            residual_var = residual / ((m - 1) * (n - 1)) / (m * n)
    variance = images_var + np.asarray(independent_var, dtype=np.float64) + np.maximum(seeds_var - residual_var, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        dof = np.where(denominator > 0, variance**2 / denominator, np.inf)
    se = np.sqrt(variance)
    half = special.stdtrit(dof, 0.5 + level / 2) * se
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(se > 0, 2 * special.stdtr(dof, -np.abs(value) / se), np.where(value == 0, 1.0, 0.0))
    return Interval(value, value - half, value + half, se, dof, p)


def class_sampling_variance(confusion) -> float:
    """Variance of a trial's test error when its test images are resampled class by class
    (binomial within each class, from its confusion matrix, true label = row)."""
    confusion = np.asarray(confusion, dtype=np.float64)
    per_class = confusion.sum(axis=1)
    total = per_class.sum()
    rate = np.divide(per_class - np.diag(confusion), per_class, out=np.zeros(len(per_class)), where=per_class > 0)
    return float((per_class * rate * (1 - rate)).sum() / total**2)


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of p-values (family-wise error rate): the k-th smallest of n is
    multiplied by n - k + 1, then made non-decreasing in that order and capped at 1. NaNs stay NaN
    and do not count."""
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    n = len(order)
    adjusted[order] = np.minimum(np.maximum.accumulate(p[order] * (n - np.arange(n))), 1.0)
    return adjusted
