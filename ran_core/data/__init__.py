"""Datasets as uint8 NHWC arrays: CIFAR-10/100 from the official files, plus two offline sets.

`load_dataset` returns a frozen `Dataset`. CIFAR comes from the official python-version
pickles (a folder or the .tar.gz, never the network when `data_dir` is given) or, with no
`data_dir`, from Keras's download cache. `digits` (scikit-learn's bundled 8x8 digits, upscaled
to 16x16) and `synthetic` (seeded 32x32 class patterns) need no download, so tests and smoke runs
work offline. Images are square, channels last; a network is built for its dataset's image size.
Label noise (`noise`) is applied per trial, from its seed.
"""

from __future__ import annotations

import os

from ran_core.common.names import DATASETS
from ran_core.data import cifar, offline
from ran_core.data.dataset import Dataset, DatasetError

__all__ = ["DATASETS", "Dataset", "DatasetError", "load_dataset"]
_SYNTHETIC_DEFAULTS = {"num_train": 1024, "num_test": 256, "num_classes": 10, "seed": 0}


def load_dataset(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    num_train: int = 1024,
    num_test: int = 256,
    num_classes: int = 10,
    seed: int = 0,
) -> Dataset:
    """Load `name` (one of DATASETS, any case).

    `data_dir` points at a local CIFAR copy (a folder or the .tar.gz) and is ignored by `digits` and
    `synthetic`; num_train/num_test/num_classes/seed only shape `synthetic`.
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in DATASETS:
        raise ValueError(f"Unknown dataset. Expected one of {DATASETS}. Received: name={name!r}")
    given = {"num_train": num_train, "num_test": num_test, "num_classes": num_classes, "seed": seed}
    if key == "synthetic":
        return offline.synthetic(**given)
    changed = {k: v for k, v in given.items() if v != _SYNTHETIC_DEFAULTS[k]}
    if changed:
        raise ValueError(
            f"num_train/num_test/num_classes/seed only apply to 'synthetic'; "
            f"dataset {key!r} has a fixed size. Received: {changed}"
        )
    if key == "digits":
        return offline.digits()
    return cifar.load_cifar(key, data_dir)
