"""ran_core.data: CIFAR files round-trip, bad copies fail loudly, offline sets are deterministic."""

import sys
import types

import numpy as np
import pytest

from ran_core.data import DATASETS, Dataset, DatasetError, load_dataset

from cifar_files import LAYOUT, cifar_contents, encode, expected, truncate, write_cifar


def _check_pixels(x, rows):
    """x[i, h, w, c] must equal rows[i, c*1024 + h*32 + w]: R plane, G plane, B plane, row-major."""
    assert x.shape == (len(rows), 32, 32, 3) and x.dtype == np.uint8
    i, h, w, c = np.meshgrid(np.arange(len(rows)), np.arange(32), np.arange(32), np.arange(3), indexing="ij")
    np.testing.assert_array_equal(x[i, h, w, c], rows[i, c * 1024 + h * 32 + w])


def _check_roundtrip(ds, dataset, n_train=50, n_test=20):
    want = expected(dataset, n_train, n_test)
    assert ds.name == dataset and ds.num_classes == LAYOUT[dataset]["num_classes"]
    _check_pixels(ds.x_train, want["train_rows"])
    _check_pixels(ds.x_test, want["test_rows"])
    assert ds.y_train.dtype == np.int64 and ds.y_test.dtype == np.int64
    np.testing.assert_array_equal(ds.y_train, want["train_labels"])
    np.testing.assert_array_equal(ds.y_test, want["test_labels"])
    assert ds.class_names == want["class_names"]


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100"])
@pytest.mark.parametrize("form", ["parent", "folder", "tarball", "tarball_parent"])
def test_cifar_roundtrip(tmp_path, dataset, form):
    out = write_cifar(tmp_path, dataset, tarball=form.startswith("tarball"))
    data_dir = {"parent": out, "folder": out / LAYOUT[dataset]["folder"], "tarball": out, "tarball_parent": out.parent}[
        form
    ]
    _check_roundtrip(load_dataset(dataset, str(data_dir)), dataset)


def test_cifar_plane_order_by_hand(tmp_path):
    """One hand-made image: the loader must read plane-major RGB, not interleaved pixels."""
    rows = np.zeros((1, 3072), np.uint8)
    rows[0, :1024], rows[0, 1024:2048], rows[0, 2048:] = 10, 20, 30
    rows[0, 0 * 1024 + 0 * 32 + 1] = 200  # R at (row 0, col 1)
    rows[0, 2 * 1024 + 1 * 32 + 0] = 250  # B at (row 1, col 0)
    batch = {b"batch_label": b"x", b"labels": [7], b"data": rows, b"filenames": [b"a.png"]}
    write_cifar(tmp_path, replace={"test_batch": batch})
    img = load_dataset("cifar10", tmp_path).x_test[0]
    assert tuple(img[0, 0]) == (10, 20, 30)
    assert tuple(img[0, 1]) == (200, 20, 30)
    assert tuple(img[1, 0]) == (10, 20, 250)
    assert tuple(img[31, 31]) == (10, 20, 30)


def test_cifar10_batches_concatenate_in_order(tmp_path):
    write_cifar(tmp_path, n_train=53)  # uneven batches: 11, 11, 11, 10, 10
    ds = load_dataset("cifar10", tmp_path)
    assert len(ds.x_train) == 53
    _check_roundtrip(ds, "cifar10", n_train=53)


@pytest.mark.parametrize("protocol", [2, 5])
def test_cifar_repickled_under_python3(tmp_path, protocol):
    write_cifar(tmp_path, "cifar100", protocol=protocol)
    _check_roundtrip(load_dataset("cifar100", tmp_path), "cifar100")


def test_cifar_dataset_name_is_case_insensitive(tmp_path):
    write_cifar(tmp_path)
    assert load_dataset(" CIFAR10 ", tmp_path).name == "cifar10"


# ---------------------------------------------------------------- broken copies


def _bad_batch(changes):
    batch = dict(cifar_contents("cifar10")["data_batch_2"])
    batch.update(changes)
    return batch


def _raises(data_dir, dataset="cifar10", *words):
    with pytest.raises(DatasetError) as info:
        load_dataset(dataset, data_dir)
    msg = str(info.value)
    for word in words:
        assert word in msg, msg
    assert "cs.toronto.edu/~kriz/cifar.html" in msg and "--data-dir" in msg, msg
    return msg


def test_missing_data_dir(tmp_path):
    _raises(tmp_path / "nowhere", "cifar10", str(tmp_path / "nowhere"), "no such file")


def test_data_dir_without_cifar(tmp_path):
    (tmp_path / "other.txt").write_text("hi")
    _raises(tmp_path, "cifar100", str(tmp_path), "cifar-100-python.tar.gz")


@pytest.mark.parametrize("tarball", [False, True])
def test_missing_batch(tmp_path, tarball):
    out = write_cifar(tmp_path, tarball=tarball, replace={"data_batch_3": None})
    _raises(out, "cifar10", str(out if tarball else out / "cifar-10-batches-py"), "data_batch_3")


def test_missing_meta_cifar100(tmp_path):
    write_cifar(tmp_path, "cifar100", replace={"meta": None})
    _raises(tmp_path, "cifar100", "missing file(s) meta")


def test_truncated_pickle(tmp_path):
    write_cifar(tmp_path)
    bad = truncate(tmp_path / "cifar-10-batches-py" / "data_batch_4")
    _raises(tmp_path, "cifar10", str(bad), "truncated or corrupt")


def test_garbage_file(tmp_path):
    write_cifar(tmp_path, replace={"test_batch": b"<html>404 Not Found</html>"})
    _raises(tmp_path, "cifar10", "test_batch", "not a readable pickle")


@pytest.mark.parametrize("keep", [0.5, 0.99])
def test_truncated_tarball(tmp_path, keep):
    out = truncate(write_cifar(tmp_path, tarball=True), keep)
    _raises(out, "cifar10", str(out), "truncated or corrupt")


def test_wrong_row_length(tmp_path):
    rows = np.zeros((10, 3000), np.uint8)
    write_cifar(tmp_path, replace={"data_batch_2": _bad_batch({b"data": rows})})
    _raises(tmp_path, "cifar10", "data_batch_2", "[N, 3072]", "(10, 3000)")


def test_wrong_dtype(tmp_path):
    rows = np.zeros((10, 3072), np.int64)
    write_cifar(tmp_path, replace={"data_batch_2": _bad_batch({b"data": rows})})
    _raises(tmp_path, "cifar10", "data_batch_2", "uint8", "int64")


@pytest.mark.parametrize("label", [10, -1])
def test_out_of_range_label(tmp_path, label):
    labels = [0] * 9 + [label]
    write_cifar(tmp_path, replace={"data_batch_2": _bad_batch({b"labels": labels})})
    _raises(tmp_path, "cifar10", "data_batch_2", "[0, 10)", str(label))


def test_out_of_range_fine_label_cifar100(tmp_path):
    batch = dict(cifar_contents("cifar100")["test"])
    batch[b"fine_labels"] = [100] * len(batch[b"fine_labels"])
    write_cifar(tmp_path, "cifar100", tarball=True, replace={"test": batch})
    _raises(tmp_path, "cifar100", "cifar-100-python/test", "[0, 100)")


def test_label_count_mismatch(tmp_path):
    write_cifar(tmp_path, replace={"data_batch_2": _bad_batch({b"labels": [1, 2, 3]})})
    _raises(tmp_path, "cifar10", "data_batch_2", "10 integers")


def test_missing_label_key(tmp_path):
    batch = _bad_batch({})
    del batch[b"labels"]
    write_cifar(tmp_path, replace={"data_batch_2": batch})
    _raises(tmp_path, "cifar10", "data_batch_2", "'labels'")


def test_wrong_meta(tmp_path):
    write_cifar(tmp_path, replace={"batches.meta": {b"label_names": [b"a", b"b"]}})
    _raises(tmp_path, "cifar10", "batches.meta", "10 class names")


def test_pickle_cannot_run_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (exec, ("import pathlib; pathlib.Path('PWNED').touch()",))

    write_cifar(tmp_path, replace={"test_batch": encode({b"x": Evil()}, protocol=2)})
    _raises(tmp_path, "cifar10", "test_batch", "refusing to load global", "exec")
    assert not (tmp_path / "PWNED").exists()


# ---------------------------------------------------------------- keras fallback


def _fake_keras(monkeypatch, load_data):
    datasets = types.SimpleNamespace(
        cifar10=types.SimpleNamespace(load_data=load_data), cifar100=types.SimpleNamespace(load_data=load_data)
    )
    monkeypatch.setitem(sys.modules, "keras", types.SimpleNamespace(datasets=datasets))


def test_data_dir_never_touches_keras(tmp_path, monkeypatch):
    def boom(**kwargs):
        raise AssertionError("network used although data_dir was given")

    _fake_keras(monkeypatch, boom)
    with pytest.raises(DatasetError):
        load_dataset("cifar10", tmp_path / "nowhere")
    write_cifar(tmp_path)
    load_dataset("cifar10", tmp_path)


def test_keras_fallback_converts_labels(monkeypatch):
    calls = []

    def load_data(**kwargs):
        calls.append(kwargs)
        rng = np.random.default_rng(0)
        x = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
        top = 99 if kwargs else 9
        return (x, np.arange(6, dtype=np.uint8)[:, None]), (x[:2], np.array([[top], [1]], np.uint8))

    _fake_keras(monkeypatch, load_data)
    ds = load_dataset("cifar100")
    assert calls == [{"label_mode": "fine"}]
    assert ds.y_train.dtype == np.int64 and ds.y_train.shape == (6,)
    np.testing.assert_array_equal(ds.y_test, [99, 1])
    assert len(ds.class_names) == 100 and ds.class_names[:2] == ("apple", "aquarium_fish")
    assert list(ds.class_names) == sorted(ds.class_names)
    assert load_dataset("cifar10").class_names[0] == "airplane" and calls[-1] == {}


def test_keras_download_failure(monkeypatch):
    def offline(**kwargs):
        raise OSError("Temporary failure in name resolution")

    _fake_keras(monkeypatch, offline)
    with pytest.raises(DatasetError, match="(?s)failed.*name resolution.*--data-dir"):
        load_dataset("cifar10")


# ---------------------------------------------------------------- digits / synthetic


def test_digits():
    from sklearn.datasets import load_digits

    ds = load_dataset("digits")
    assert (ds.x_train.shape, ds.x_test.shape) == ((1347, 16, 16, 3), (450, 16, 16, 3))
    assert ds.pixel_mean().shape == (16, 16, 3)  # the input shape a network is built for
    assert ds.x_train.dtype == np.uint8 and ds.y_train.dtype == np.int64
    assert ds.num_classes == 10 and ds.class_names == tuple("0123456789")
    x = np.concatenate([ds.x_train, ds.x_test])
    assert x.max() == 255 and x.min() == 0
    assert (x == x[..., :1]).all()  # grey: three equal channels
    small = x[:, ::2, ::2, 0]
    assert (x[..., 0] == small.repeat(2, axis=1).repeat(2, axis=2)).all()  # 2x2 nearest blocks
    raw = load_digits()
    want = sorted(zip(np.rint(raw.images * 255 / 16).astype(np.uint8).reshape(-1, 64).tolist(), raw.target.tolist()))
    got = sorted(zip(small.reshape(-1, 64).tolist(), np.concatenate([ds.y_train, ds.y_test]).tolist()))
    assert got == want  # every image once, with its own label
    # stratified: each class's test share is 25% of that class, give or take rounding
    total = np.bincount(raw.target, minlength=10)
    assert (np.abs(np.bincount(ds.y_test, minlength=10) - 0.25 * total) <= 1).all()
    again = load_dataset("digits")
    np.testing.assert_array_equal(again.x_test, ds.x_test)
    np.testing.assert_array_equal(again.y_train, ds.y_train)


def test_synthetic_shape_and_determinism():
    a = load_dataset("synthetic", num_train=40, num_test=12, num_classes=7, seed=3)
    b = load_dataset("synthetic", num_train=40, num_test=12, num_classes=7, seed=3)
    c = load_dataset("synthetic", num_train=40, num_test=12, num_classes=7, seed=4)
    assert a.x_train.shape == (40, 32, 32, 3) and a.x_test.shape == (12, 32, 32, 3)
    assert a.x_train.dtype == np.uint8 and a.y_test.dtype == np.int64
    assert a.num_classes == 7 and len(a.class_names) == 7
    assert set(a.y_train.tolist()) == set(range(7))
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_train, c.x_train)
    big = load_dataset("synthetic", num_train=300, num_test=5, num_classes=100)
    assert big.y_train.max() == 99


def test_synthetic_is_learnable():
    """Nearest class mean (a linear model) must beat chance by far, even on mean colour alone."""
    ds = load_dataset("synthetic", num_train=500, num_test=200, num_classes=10)
    x_tr, x_te = ds.x_train.astype(np.float32), ds.x_test.astype(np.float32)
    for feats in (lambda x: x.reshape(len(x), -1), lambda x: x.mean(axis=(1, 2))):
        f_tr, f_te = feats(x_tr), feats(x_te)
        means = np.stack([f_tr[ds.y_train == k].mean(0) for k in range(10)])
        pred = ((f_te[:, None] - means[None]) ** 2).sum(-1).argmin(1)
        assert (pred == ds.y_test).mean() > 0.9


def test_pixel_mean():
    ds = load_dataset("synthetic", num_train=64, num_test=8)
    mean = ds.pixel_mean()
    assert mean.shape == (32, 32, 3) and mean.dtype == np.float32
    np.testing.assert_allclose(mean, ds.x_train.astype(np.float64).mean(0), rtol=1e-6)
    assert ds.pixel_mean() is mean and not mean.flags.writeable


def test_dataset_arrays_are_read_only():
    ds = load_dataset("synthetic", num_train=8, num_test=8)
    with pytest.raises(ValueError):
        ds.x_train[0, 0, 0, 0] = 1
    with pytest.raises(ValueError):
        ds.y_train[0] = 1


def test_dataset_validates_arrays():
    x, y = np.zeros((4, 32, 32, 3), np.uint8), np.zeros(4, np.int64)
    Dataset("ok", x, y, x, y, 2, ("a", "b"))
    with pytest.raises(ValueError, match="x_train"):
        Dataset("bad", x.astype(np.float32), y, x, y, 2, ("a", "b"))
    with pytest.raises(ValueError, match="y_test"):
        Dataset("bad", x, y, x, y[:3], 2, ("a", "b"))
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        Dataset("bad", x, y + 2, x, y, 2, ("a", "b"))
    with pytest.raises(ValueError, match="class_names"):
        Dataset("bad", x, y, x, y, 3, ("a", "b"))
    Dataset("small", x[:, :16, :16], y, x[:, :16, :16], y, 2, ("a", "b"))  # any image size, same in both
    with pytest.raises(ValueError, match=r"x_test images must match x_train's \(32, 32, 3\)"):
        Dataset("bad", x, y, x[:, :16, :16], y, 2, ("a", "b"))
    with pytest.raises(ValueError, match=r"uint8 \[N, H, W, 3\]"):
        Dataset("bad", x[..., :1], y, x[..., :1], y, 2, ("a", "b"))


# ---------------------------------------------------------------- arguments


def test_unknown_dataset():
    with pytest.raises(ValueError) as info:
        load_dataset("imagenet")
    assert "'imagenet'" in str(info.value) and str(DATASETS) in str(info.value)
    assert DATASETS == ("cifar10", "cifar100", "digits", "synthetic")


@pytest.mark.parametrize("name", ["digits", "cifar10"])
def test_synthetic_only_arguments_rejected_elsewhere(name):
    with pytest.raises(ValueError, match="num_train"):
        load_dataset(name, num_train=10)
    with pytest.raises(ValueError, match="seed"):
        load_dataset(name, seed=1)


@pytest.mark.parametrize(
    "kwargs", [dict(num_train=0), dict(num_classes=1), dict(seed=-1), dict(num_test=2.5), dict(seed=True)]
)
def test_synthetic_bad_arguments(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        load_dataset("synthetic", **kwargs)


@pytest.mark.parametrize("name", ["digits", "synthetic"])
def test_planning_sizes_match_what_loads(name):
    """A dry run prices a study from TRAIN_IMAGES and NUM_CLASSES without loading data; they must
    agree with the loaders (CIFAR's are the official 50,000 images of 10 / 100 classes)."""
    from ran_core.common.names import IMAGE_SIZES, NUM_CLASSES, TRAIN_IMAGES

    data = load_dataset(name)
    assert (len(data.x_train), data.num_classes, data.x_train.shape[1]) == (
        TRAIN_IMAGES[name],
        NUM_CLASSES[name],
        IMAGE_SIZES[name],
    )
