"""Datasets as uint8 NHWC arrays: CIFAR-10/100 from the official files, plus two offline sets.

`load_dataset` returns a frozen `Dataset`. CIFAR comes from the official python-version
pickles (a folder or the .tar.gz, never the network when `data_dir` is given) or, with no
`data_dir`, from Keras's download cache. `digits` (scikit-learn's bundled 8x8 digits, upscaled
to 16x16) and `synthetic` (seeded 32x32 class patterns) need no download, so tests and smoke runs
work offline. Images are square, channels last; a network is built for its dataset's image size.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np

DATASETS = ("cifar10", "cifar100", "digits", "synthetic")
_SYNTHETIC_DEFAULTS = {"num_train": 1024, "num_test": 256, "num_classes": 10, "seed": 0}
# Digits are 8x8; each pixel becomes a DIGITS_UPSCALE x DIGITS_UPSCALE block. 16x16 costs a quarter of
# 32x32 per image and still leaves the default soft masks (3/2/1 poolings) a 2x2 map in every stage.
DIGITS_UPSCALE = 2
PAPER_DATASET_NAMES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}
IMAGE_SIZES = {"cifar10": 32, "cifar100": 32, "digits": 8 * DIGITS_UPSCALE, "synthetic": 32}  # square, pixels

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# Fine label names in label order (alphabetical), as in the official `meta` file.
CIFAR100_CLASSES = tuple(
    [
        "apple",
        "aquarium_fish",
        "baby",
        "bear",
        "beaver",
        "bed",
        "bee",
        "beetle",
        "bicycle",
        "bottle",
        "bowl",
        "boy",
        "bridge",
        "bus",
        "butterfly",
        "camel",
        "can",
        "castle",
        "caterpillar",
        "cattle",
        "chair",
        "chimpanzee",
        "clock",
        "cloud",
        "cockroach",
        "couch",
        "crab",
        "crocodile",
        "cup",
        "dinosaur",
        "dolphin",
        "elephant",
        "flatfish",
        "forest",
        "fox",
        "girl",
        "hamster",
        "house",
        "kangaroo",
        "keyboard",
        "lamp",
        "lawn_mower",
        "leopard",
        "lion",
        "lizard",
        "lobster",
        "man",
        "maple_tree",
        "motorcycle",
        "mountain",
        "mouse",
        "mushroom",
        "oak_tree",
        "orange",
        "orchid",
        "otter",
        "palm_tree",
        "pear",
        "pickup_truck",
        "pine_tree",
        "plain",
        "plate",
        "poppy",
        "porcupine",
        "possum",
        "rabbit",
        "raccoon",
        "ray",
        "road",
        "rocket",
        "rose",
        "sea",
        "seal",
        "shark",
        "shrew",
        "skunk",
        "skyscraper",
        "snail",
        "snake",
        "spider",
        "squirrel",
        "streetcar",
        "sunflower",
        "sweet_pepper",
        "table",
        "tank",
        "telephone",
        "television",
        "tiger",
        "tractor",
        "train",
        "trout",
        "tulip",
        "turtle",
        "wardrobe",
        "whale",
        "willow_tree",
        "wolf",
        "woman",
        "worm",
    ]
)


def pretty_dataset(name) -> str:
    """'cifar10' -> 'CIFAR-10'; a smoke dataset with its input size: 'digits' -> 'digits 16x16'."""
    name = str(name)
    if name in PAPER_DATASET_NAMES:
        return PAPER_DATASET_NAMES[name]
    size = IMAGE_SIZES.get(name)
    return f"{name} {size}x{size}" if size else name


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

    `data_dir` points at a local CIFAR copy (see `_find_cifar`) and is ignored by `digits` and
    `synthetic`; num_train/num_test/num_classes/seed only shape `synthetic`.
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in DATASETS:
        raise ValueError(f"Unknown dataset. Expected one of {DATASETS}. Received: name={name!r}")
    given = {"num_train": num_train, "num_test": num_test, "num_classes": num_classes, "seed": seed}
    if key == "synthetic":
        return _synthetic(**given)
    changed = {k: v for k, v in given.items() if v != _SYNTHETIC_DEFAULTS[k]}
    if changed:
        raise ValueError(
            f"num_train/num_test/num_classes/seed only apply to 'synthetic'; "
            f"dataset {key!r} has a fixed size. Received: {changed}"
        )
    if key == "digits":
        return _digits()
    return _cifar(key, data_dir)


# --------------------------------------------------------------------------- offline sets


def _digits() -> Dataset:
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


def _synthetic(num_train: int, num_test: int, num_classes: int, seed: int) -> Dataset:
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


# --------------------------------------------------------------------------- CIFAR


@dataclasses.dataclass(frozen=True)
class _CifarSpec:
    title: str
    folder: str
    tarball: str
    train: tuple[str, ...]
    test: str
    meta: str
    label_key: str
    names_key: str
    num_classes: int
    class_names: tuple[str, ...]
    keras_args: tuple = ()

    @property
    def files(self) -> tuple[str, ...]:
        return self.train + (self.test, self.meta)

    @property
    def how_to_get(self) -> str:
        return (
            f"To get it, download {self.tarball} from https://www.cs.toronto.edu/~kriz/cifar.html "
            f"and pass the .tar.gz, the folder holding it, or its extracted {self.folder}/ folder "
            f"as --data-dir; or run with network access and no --data-dir, and Keras will "
            f"download and cache it."
        )


_CIFAR = {
    "cifar10": _CifarSpec(
        "CIFAR-10",
        "cifar-10-batches-py",
        "cifar-10-python.tar.gz",
        tuple(f"data_batch_{i}" for i in range(1, 6)),
        "test_batch",
        "batches.meta",
        "labels",
        "label_names",
        10,
        CIFAR10_CLASSES,
    ),
    "cifar100": _CifarSpec(
        "CIFAR-100",
        "cifar-100-python",
        "cifar-100-python.tar.gz",
        ("train",),
        "test",
        "meta",
        "fine_labels",
        "fine_label_names",
        100,
        CIFAR100_CLASSES,
        (("label_mode", "fine"),),
    ),
}


def _cifar(key: str, data_dir) -> Dataset:
    spec = _CIFAR[key]
    if data_dir is None:
        return _cifar_from_keras(key, spec)
    raw = _read_cifar_files(spec, Path(data_dir).expanduser())
    parts = [_parse_batch(spec, path, blob) for path, blob in (raw[f] for f in spec.train)]
    x_te, y_te = _parse_batch(spec, *raw[spec.test])
    names = _parse_meta(spec, *raw[spec.meta])
    x_tr = np.concatenate([x for x, _ in parts])
    y_tr = np.concatenate([y for _, y in parts])
    return Dataset(key, x_tr, y_tr, x_te, y_te, spec.num_classes, names)


def _fail(spec: _CifarSpec, path, problem: str) -> DatasetError:
    return DatasetError(f"{spec.title} copy at {path}: {problem}. {spec.how_to_get}")


def _read_cifar_files(spec: _CifarSpec, root: Path) -> dict[str, tuple[str, bytes]]:
    """Return {file name: (where it came from, bytes)} for every official file.

    `root` may be the extracted folder, its parent, the official .tar.gz or a folder holding it.
    """
    if root.is_file():
        return _read_tarball(spec, root)
    if not root.is_dir():
        raise _fail(spec, root, "no such file or folder")
    if (root / spec.folder).is_dir():
        folder = root / spec.folder
    elif root.name == spec.folder or all((root / f).is_file() for f in spec.files):
        folder = root
    elif (root / spec.tarball).is_file():
        return _read_tarball(spec, root / spec.tarball)
    elif any((root / f).is_file() for f in spec.files):
        folder = root  # a partial copy: report exactly what is missing below
    else:
        raise _fail(
            spec, root, f"found neither a {spec.folder}/ folder, its files ({', '.join(spec.files)}) nor {spec.tarball}"
        )
    missing = [f for f in spec.files if not (folder / f).is_file()]
    if missing:
        raise _fail(spec, folder, f"missing file(s) {', '.join(missing)} (expected {', '.join(spec.files)})")
    out = {}
    for f in spec.files:
        try:
            out[f] = (str(folder / f), (folder / f).read_bytes())
        except OSError as exc:
            raise _fail(spec, folder / f, f"cannot be read ({exc})") from exc
    return out


def _read_tarball(spec: _CifarSpec, path: Path) -> dict[str, tuple[str, bytes]]:
    """Read the official files straight out of the tarball, without extracting to disk."""
    try:
        with tarfile.open(path, "r:*") as tar:
            members = {m.name.removeprefix("./"): m for m in tar.getmembers() if m.isfile()}
            missing = [f for f in spec.files if f"{spec.folder}/{f}" not in members]
            if missing:
                raise _fail(spec, path, f"tarball lacks {', '.join(f'{spec.folder}/{f}' for f in missing)}")
            return {
                f: (f"{path}!{spec.folder}/{f}", tar.extractfile(members[f"{spec.folder}/{f}"]).read())
                for f in spec.files
            }
    except DatasetError:
        raise
    except Exception as exc:  # tarfile/gzip/zlib/OS errors on a truncated or corrupt archive
        raise _fail(
            spec, path, f"not a readable tar.gz archive, truncated or corrupt ({type(exc).__name__}: {exc})"
        ) from exc


class _CifarUnpickler(pickle.Unpickler):
    """Load only what the official files hold (dicts, lists, numpy arrays), never arbitrary code."""

    _ALLOWED = {
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if module.startswith("numpy.core"):  # files pickled under numpy 1.x (the official ones)
            module = "numpy._core" + module[len("numpy.core") :]
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        return getattr(importlib.import_module(module), name)


def _unpickle(spec: _CifarSpec, path: str, blob: bytes) -> dict:
    try:
        obj = _CifarUnpickler(io.BytesIO(blob), encoding="bytes").load()
    except Exception as exc:  # any failure here means a truncated or corrupt file
        raise _fail(spec, path, f"not a readable pickle, truncated or corrupt ({type(exc).__name__}: {exc})") from exc
    if not isinstance(obj, dict):
        raise _fail(spec, path, f"expected a pickled dict, found {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _parse_batch(spec: _CifarSpec, path: str, blob: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Decode one batch: `data` uint8 [N, 3072] as R, G, B planes of 32x32 -> [N, 32, 32, 3]."""
    d = _unpickle(spec, path, blob)
    for k in ("data", spec.label_key):
        if k not in d:
            raise _fail(spec, path, f"no {k!r} entry (found keys {sorted(map(str, d))})")
    data, labels = d["data"], np.asarray(d[spec.label_key])
    if not (
        isinstance(data, np.ndarray)
        and data.dtype == np.uint8
        and data.ndim == 2
        and data.shape[0] > 0
        and data.shape[1] == 3072
    ):
        raise _fail(
            spec,
            path,
            f"'data' must be a non-empty uint8 array [N, 3072], found "
            f"{getattr(data, 'dtype', type(data).__name__)} {np.shape(data)}",
        )
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or len(labels) != len(data):
        raise _fail(
            spec,
            path,
            f"{spec.label_key!r} must be {len(data)} integers (one per row), found {labels.dtype} {labels.shape}",
        )
    if labels.min() < 0 or labels.max() >= spec.num_classes:
        raise _fail(
            spec,
            path,
            f"{spec.label_key!r} must lie in [0, {spec.num_classes}), found [{labels.min()}, {labels.max()}]",
        )
    x = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return x, labels.astype(np.int64)


def _parse_meta(spec: _CifarSpec, path: str, blob: bytes) -> tuple[str, ...]:
    names = _unpickle(spec, path, blob).get(spec.names_key)
    if not isinstance(names, (list, tuple)) or len(names) != spec.num_classes:
        found = f"{len(names)} names" if isinstance(names, (list, tuple)) else type(names).__name__
        raise _fail(spec, path, f"{spec.names_key!r} must list {spec.num_classes} class names, found {found}")
    return tuple(n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names)


def _cifar_from_keras(key: str, spec: _CifarSpec) -> Dataset:
    """Download (or reuse Keras's cache) through keras.datasets; Keras is imported only here."""
    try:
        import keras

        loader = getattr(keras.datasets, key)
        (x_tr, y_tr), (x_te, y_te) = loader.load_data(**dict(spec.keras_args))
    except Exception as exc:
        raise DatasetError(
            f"Downloading {spec.title} through keras.datasets.{key}.load_data() failed "
            f"({type(exc).__name__}: {exc}). Without network access, download {spec.tarball} from "
            f"https://www.cs.toronto.edu/~kriz/cifar.html elsewhere and point --data-dir at it "
            f"(the .tar.gz, the folder holding it, or its extracted {spec.folder}/ folder)."
        ) from exc
    x_tr, x_te = np.asarray(x_tr, np.uint8), np.asarray(x_te, np.uint8)
    y_tr = np.asarray(y_tr).reshape(-1).astype(np.int64)
    y_te = np.asarray(y_te).reshape(-1).astype(np.int64)
    return Dataset(key, x_tr, y_tr, x_te, y_te, spec.num_classes, spec.class_names)
