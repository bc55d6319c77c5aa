"""The paper's symmetric label noise (Eq. 7).

Training labels are corrupted by a confusion matrix Q with r = 1 - noise_ratio on the
diagonal and (1 - r) / (K - 1) elsewhere: each label is kept with probability r and otherwise
replaced by one of the K - 1 other classes, chosen uniformly. Test labels stay clean.
"""

from __future__ import annotations

import numbers

import numpy as np


def _check_ratio(noise_ratio) -> float:
    ok = isinstance(noise_ratio, numbers.Real) and not isinstance(noise_ratio, (bool, np.bool_))
    if not ok or not (0.0 <= float(noise_ratio) < 1.0):  # NaN fails the comparison too
        raise ValueError(
            "noise_ratio must be a real number in [0, 1) (the fraction of labels "
            f"replaced). Received: noise_ratio={noise_ratio!r}"
        )
    return float(noise_ratio)


def _check_int(arg: str, value, low: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{arg} must be an int >= {low}. Received: {arg}={value!r}")
    return int(value)


def transition_matrix(noise_ratio: float, num_classes: int) -> np.ndarray:
    """Q[i, j] = P(noisy = j | clean = i): r = 1 - noise_ratio on the diagonal, (1 - r)/(K - 1) off it."""
    noise_ratio = _check_ratio(noise_ratio)
    k = _check_int("num_classes", num_classes, 2)
    q = np.full((k, k), noise_ratio / (k - 1))
    np.fill_diagonal(q, 1.0 - noise_ratio)
    return q


def noisy_labels(labels, noise_ratio: float, num_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample noisy labels from row `labels[i]` of Q, independently per label.

    Returns (noisy int64 labels, bool mask of the labels that changed) as new arrays; the
    input is never modified. The same seed gives the same corruption.
    """
    noise_ratio = _check_ratio(noise_ratio)
    k = _check_int("num_classes", num_classes, 2)
    seed = _check_int("seed", seed, 0)
    y = np.asarray(labels)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(f"labels must be a 1-D array of integers. Received: dtype={y.dtype}, shape={y.shape}")
    if y.size and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"labels must lie in [0, num_classes={k}). Received: labels in [{y.min()}, {y.max()}]")
    rng = np.random.default_rng(seed)
    flipped = rng.random(y.shape) < noise_ratio
    # y + U{1..K-1} (mod K) is uniform over the K - 1 classes other than y.
    offsets = rng.integers(1, k, size=y.shape)
    noisy = np.where(flipped, (y.astype(np.int64) + offsets) % k, y).astype(np.int64)
    return noisy, flipped
