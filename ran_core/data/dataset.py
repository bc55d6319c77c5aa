"""A dataset in memory: uint8 NHWC train/test images and int64 labels, validated and read-only."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np


class DatasetError(ValueError):
    """A dataset copy is missing, truncated or corrupt, or could not be downloaded."""


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """Train/test images (uint8 [N, H, W, 3], channels last, the same H x W in both) and int64 labels.

    The arrays are stored as read-only views so a cached `pixel_mean()` can never go stale
    and a trial cannot corrupt data shared with the next one by augmenting in place.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    class_names: tuple[str, ...]

    def __post_init__(self):
        if len(self.class_names) != self.num_classes:
            raise ValueError(
                f"Dataset {self.name!r}: {len(self.class_names)} class_names for num_classes={self.num_classes}."
            )
        for split in ("train", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if not (
                isinstance(x, np.ndarray)
                and x.dtype == np.uint8
                and x.ndim == 4
                and x.shape[3] == 3
                and x.shape[1] >= 1
                and x.shape[2] >= 1
            ):
                raise ValueError(
                    f"Dataset {self.name!r}: x_{split} must be uint8 [N, H, W, 3]. "
                    f"Received: {getattr(x, 'dtype', type(x))} {np.shape(x)}"
                )
            if not (isinstance(y, np.ndarray) and y.dtype == np.int64 and y.shape == x.shape[:1]):
                raise ValueError(
                    f"Dataset {self.name!r}: y_{split} must be int64 [{len(x)}]. "
                    f"Received: {getattr(y, 'dtype', type(y))} {np.shape(y)}"
                )
            if y.size and (y.min() < 0 or y.max() >= self.num_classes):
                raise ValueError(
                    f"Dataset {self.name!r}: y_{split} must lie in "
                    f"[0, {self.num_classes}). Received: [{y.min()}, {y.max()}]"
                )
            if x.shape[1:] != self.x_train.shape[1:]:
                raise ValueError(
                    f"Dataset {self.name!r}: x_test images must match x_train's "
                    f"{self.x_train.shape[1:]}. Received: {x.shape[1:]}"
                )
            for arr, field in ((x, f"x_{split}"), (y, f"y_{split}")):
                view = arr.view()
                view.flags.writeable = False
                object.__setattr__(self, field, view)

    @functools.cached_property
    def _pixel_mean(self) -> np.ndarray:
        mean = self.x_train.mean(axis=0, dtype=np.float64).astype(np.float32)
        mean.flags.writeable = False
        return mean

    def pixel_mean(self) -> np.ndarray:
        """Per-pixel RGB mean of x_train, float32 [H, W, 3] (the paper subtracts it)."""
        return self._pixel_mean
