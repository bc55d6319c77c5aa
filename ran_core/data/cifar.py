"""CIFAR-10/100 from the official python-version files: a folder, the .tar.gz, or Keras' download.

The pickles are read with an unpickler that accepts only the plain types the official files hold,
and every array is checked for shape and range, so a damaged or foreign copy fails with a message
that says what was wrong and how to get a good one.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from ran_core.data.dataset import Dataset, DatasetError

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


def load_cifar(key: str, data_dir) -> Dataset:
    """CIFAR-10 or -100 (`key`) from a local copy at `data_dir` (see `_read_cifar_files`), or with
    `data_dir` None through Keras' download cache."""
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
