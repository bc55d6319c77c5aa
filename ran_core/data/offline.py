"""Two datasets that need no download: scikit-learn's bundled digits and seeded synthetic patterns.

Tests and smoke runs train on these offline; `digits` is real handwriting, so a smoke run's
accuracy means something.
"""

from __future__ import annotations

import numpy as np

from ran_core.common.names import DIGITS_UPSCALE
from ran_core.data.dataset import Dataset


def digits() -> Dataset:
    """scikit-learn's 1797 8x8 digits (0..16) as 16x16 RGB uint8, fixed stratified 75/25 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    small = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)
    big = small.repeat(DIGITS_UPSCALE, axis=1).repeat(DIGITS_UPSCALE, axis=2)
    x = np.ascontiguousarray(np.broadcast_to(big[..., None], big.shape + (3,)))
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    return Dataset("digits", x_tr, y_tr, x_te, y_te, 10, tuple(str(i) for i in range(10)))


def synthetic(num_train: int, num_test: int, num_classes: int, seed: int) -> Dataset:
    """Seeded, learnable images: each class has its own colour and coarse 4x4 pattern.

    The class signal is low-frequency and colour-based, so it survives pad-crop-flip
    augmentation and a small model fits it in a few epochs; per-image noise keeps it non-trivial.
    """
    for arg, value, low in (
        ("num_train", num_train, 1),
        ("num_test", num_test, 1),
        ("num_classes", num_classes, 2),
        ("seed", seed, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"synthetic: {arg} must be an int >= {low}. Received: {arg}={value!r}")
    rng = np.random.default_rng(seed)
    colour = rng.uniform(48, 208, size=(num_classes, 1, 1, 3))
    coarse = rng.uniform(-40, 40, size=(num_classes, 4, 4, 3)).repeat(8, axis=1).repeat(8, axis=2)
    means = colour + coarse

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.permutation(np.arange(n) % num_classes).astype(np.int64)  # balanced classes
        x = means[y] + rng.normal(0.0, 24.0, size=(n, 32, 32, 3))
        return np.clip(np.rint(x), 0, 255).astype(np.uint8), y

    x_tr, y_tr = draw(num_train)
    x_te, y_te = draw(num_test)
    names = tuple(f"class_{i}" for i in range(num_classes))
    return Dataset("synthetic", x_tr, y_tr, x_te, y_te, num_classes, names)
