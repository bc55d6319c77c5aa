"""A validation split carved from the training set: stratified by class, drawn from a split seed.

Selection (a search's TPE, and the report's choice of its best configuration) uses the validation
part; the test set is kept for reporting what was selected. Every class gives round(share * its
count) images (at least one when the share is positive and the class has two or more), chosen by
`split_seed` alone: every trial of a study shares one split, whatever its own seed. Label noise is
drawn for the training part only; the validation labels stay clean, as the test labels do
(`ran_core.training.loop`).
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Split:
    """Indices into the training set, each part sorted: `train` trains, `validation` selects."""

    train: np.ndarray
    validation: np.ndarray


def validation_split(labels, share: float, seed: int) -> Split:
    """The stratified split of a training set with `labels` (int [N]) that holds out `share` of
    each class. share 0 keeps every image in `train` (the paper's protocol)."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(
            f"labels must be a 1-D array of integers. Received: dtype={labels.dtype}, shape={labels.shape}"
        )
    if not 0.0 <= float(share) < 1.0:
        raise ValueError(f"share must lie in [0, 1). Received: share={share!r}")
    everything = np.arange(len(labels))
    if share == 0:
        return Split(everything, everything[:0])
    rng = np.random.default_rng([int(seed), 0x5917])  # its own stream: never the trial's seeds
    held = []
    for label in np.unique(labels):
        members = everything[labels == label]
        count = int(round(share * len(members)))
        count = min(max(count, 1), len(members) - 1) if len(members) > 1 else 0
        held.append(rng.permutation(members)[:count])
    validation = np.sort(np.concatenate(held))
    return Split(np.setdiff1d(everything, validation, assume_unique=True), validation)
