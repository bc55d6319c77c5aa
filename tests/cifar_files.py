"""Write small CIFAR-10/100 copies in the official python-version format, for tests.

The official files are Python 2 cPickle (protocol 2) dicts with byte-string keys; `data` is a
numpy uint8 array [N, 3072] (1024 R, then 1024 G, then 1024 B, each 32x32 row-major) pickled
under numpy 1.x's `numpy.core.multiarray._reconstruct`; labels and names are plain lists.
`py2_pickle` reproduces that byte layout, so the loader is tested on what it will really read.

    root = write_cifar(tmp_path)                       # tmp_path/cifar-10-batches-py/...
    tgz = write_cifar(tmp_path, tarball=True)          # tmp_path/cifar-10-python.tar.gz
    want = cifar_contents("cifar10")                   # what was written, to compare against
    write_cifar(tmp_path, replace={"data_batch_3": None})          # a missing file
    write_cifar(tmp_path, replace={"test_batch": b"\\x80\\x02}q"})  # a corrupt one
"""

from __future__ import annotations

import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np

LAYOUT = {
    "cifar10": dict(
        folder="cifar-10-batches-py",
        tarball="cifar-10-python.tar.gz",
        train=tuple(f"data_batch_{i}" for i in range(1, 6)),
        test="test_batch",
        meta="batches.meta",
        num_classes=10,
    ),
    "cifar100": dict(
        folder="cifar-100-python",
        tarball="cifar-100-python.tar.gz",
        train=("train",),
        test="test",
        meta="meta",
        num_classes=100,
    ),
}


def py2_pickle(obj) -> bytes:
    """Pickle `obj` byte-for-byte the way Python 2's cPickle (protocol 2, no memo) would.

    Handles dicts, lists, tuples, ints, None/bools, bytes (Python 2 `str`) and numpy arrays.
    """
    out = bytearray(b"\x80\x02")

    def put(o):
        if o is None:
            out.extend(b"N")
        elif isinstance(o, bool):
            out.extend(b"\x88" if o else b"\x89")
        elif isinstance(o, (int, np.integer)):
            o = int(o)
            if 0 <= o < 256:
                out.extend(b"K" + bytes([o]))
            elif 0 <= o < 65536:
                out.extend(b"M" + struct.pack("<H", o))
            else:
                out.extend(b"J" + struct.pack("<i", o))
        elif isinstance(o, bytes):
            head = b"U" + bytes([len(o)]) if len(o) < 256 else b"T" + struct.pack("<I", len(o))
            out.extend(head + o)
        elif isinstance(o, tuple):
            if not 1 <= len(o) <= 3:
                out.extend(b"(")
            for item in o:
                put(item)
            out.extend({1: b"\x85", 2: b"\x86", 3: b"\x87"}.get(len(o), b"t"))  # TUPLE1/2/3
        elif isinstance(o, list):
            out.extend(b"](")
            for item in o:
                put(item)
            out.extend(b"e")
        elif isinstance(o, dict):
            out.extend(b"}(")
            for key, value in o.items():
                put(key)
                put(value)
            out.extend(b"u")
        elif isinstance(o, np.ndarray):
            # numpy 1.x: _reconstruct(ndarray, (0,), 'b') then __setstate__(state)
            out.extend(b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n")
            put((0,))
            put(b"b")
            out.extend(b"\x87R(K\x01")  # TUPLE3, REDUCE, MARK, version 1
            put(tuple(o.shape))
            order, code = o.dtype.str[0].encode(), o.dtype.str[1:].encode()
            out.extend(b"cnumpy\ndtype\n")
            put(code)
            out.extend(b"K\x00K\x01\x87R")  # dtype(code, 0, 1)
            put((3, order, None, None, None, -1, -1, 0))
            out.extend(b"b")  # BUILD the dtype
            put(False)
            put(np.ascontiguousarray(o).tobytes())
            out.extend(b"tb")  # close the state tuple, BUILD the array
        else:
            raise TypeError(f"py2_pickle cannot encode {type(o).__name__}")

    put(obj)
    out.extend(b".")
    return bytes(out)


def encode(obj, protocol: int | None = None) -> bytes:
    """Official Python 2 layout by default; a Python 3 protocol number re-pickles like a user might."""
    return py2_pickle(obj) if protocol is None else pickle.dumps(obj, protocol=protocol)


def cifar_contents(dataset: str = "cifar10", n_train: int = 50, n_test: int = 20, seed: int = 0) -> dict[str, dict]:
    """{file name: dict with bytes keys} exactly as `write_cifar` writes them (deterministic)."""
    spec = LAYOUT[dataset]
    k = spec["num_classes"]
    rng = np.random.default_rng(seed)

    def batch(n: int, label: bytes) -> dict:
        d = {b"batch_label": label}
        fine = [int(v) for v in rng.integers(0, k, size=n)]
        if dataset == "cifar10":
            d[b"labels"] = fine
        else:
            d[b"fine_labels"] = fine
            d[b"coarse_labels"] = [v // 5 for v in fine]
        d[b"data"] = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
        d[b"filenames"] = [f"img_{i:05d}.png".encode() for i in range(n)]
        return d

    files = {}
    sizes = [len(part) for part in np.array_split(np.arange(n_train), len(spec["train"]))]
    for i, (name, n) in enumerate(zip(spec["train"], sizes)):
        files[name] = batch(n, f"training batch {i + 1} of {len(sizes)}".encode())
    files[spec["test"]] = batch(n_test, b"testing batch 1 of 1")
    if dataset == "cifar10":
        files[spec["meta"]] = {
            b"num_cases_per_batch": sizes[0],
            b"num_vis": 3072,
            b"label_names": [f"c10_{i}".encode() for i in range(10)],
        }
    else:
        files[spec["meta"]] = {
            b"fine_label_names": [f"fine_{i}".encode() for i in range(100)],
            b"coarse_label_names": [f"coarse_{i}".encode() for i in range(20)],
        }
    return files


def expected(dataset: str = "cifar10", n_train: int = 50, n_test: int = 20, seed: int = 0) -> dict:
    """Raw rows [N, 3072], labels and class names that the written copy holds, in load order."""
    spec = LAYOUT[dataset]
    files = cifar_contents(dataset, n_train, n_test, seed)
    key = b"labels" if dataset == "cifar10" else b"fine_labels"
    names_key = b"label_names" if dataset == "cifar10" else b"fine_label_names"
    train = [files[f] for f in spec["train"]]
    return dict(
        train_rows=np.concatenate([b[b"data"] for b in train]),
        train_labels=np.concatenate([b[key] for b in train]).astype(np.int64),
        test_rows=files[spec["test"]][b"data"],
        test_labels=np.asarray(files[spec["test"]][key], np.int64),
        class_names=tuple(n.decode() for n in files[spec["meta"]][names_key]),
    )


def write_cifar(
    root,
    dataset: str = "cifar10",
    n_train: int = 50,
    n_test: int = 20,
    tarball: bool = False,
    seed: int = 0,
    *,
    protocol: int | None = None,
    replace: dict | None = None,
) -> Path:
    """Write a small official-format copy under `root`; return what to pass as data_dir.

    Folder: writes root/<cifar-10-batches-py | cifar-100-python>/ and returns root.
    Tarball: writes root/<cifar-10-python.tar.gz | cifar-100-python.tar.gz> and returns its path.
    `replace` maps a file name to a dict (pickled instead), raw bytes (written as is) or None
    (left out), to build missing or corrupt copies.
    """
    spec = LAYOUT[dataset]
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    files = cifar_contents(dataset, n_train, n_test, seed)
    files.update(replace or {})
    blobs = {
        name: (content if isinstance(content, bytes) else encode(content, protocol))
        for name, content in files.items()
        if content is not None
    }
    if dataset == "cifar10":
        blobs["readme.html"] = b"<html>CIFAR-10 python version</html>\n"
    if not tarball:
        folder = root / spec["folder"]
        folder.mkdir(exist_ok=True)
        for name, blob in blobs.items():
            (folder / name).write_bytes(blob)
        return root
    path = root / spec["tarball"]
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(spec["folder"])
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        for name, blob in blobs.items():
            info = tarfile.TarInfo(f"{spec['folder']}/{name}")
            info.size, info.mode = len(blob), 0o644
            tar.addfile(info, io.BytesIO(blob))
    return path


def truncate(path, keep: float = 0.5) -> Path:
    """Cut a file to the first `keep` fraction of its bytes, like an interrupted download."""
    path = Path(path)
    blob = path.read_bytes()
    path.write_bytes(blob[: int(len(blob) * keep)])
    return path
