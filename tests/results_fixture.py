"""Small, deterministic result folders that follow ``results/README.md``.

``write_fixture_results(root)`` writes ``root/<study>/trials.parquet`` and
``root/<study>/epochs.parquet`` with the schemas of ``ran_core.results.store`` (the recorder's):

* ``noise_robustness``: attention92 vs resnet164 on cifar10 at noise 0 ... 0.7,
  two seeds each (matches paper Tables 5/6), a smoke cell pair on ``digits``
  (no paper value), one pruned and one errored trial.
* ``depth``: attention56/92 on cifar10 and cifar100, plus an attention236 cell
  whose only trial errored (a gap).
* ``learning_mode``: arl/nal x attention56/92 on ``digits`` with only
  ``trials.parquet`` (a partial folder: epochs.parquet missing).
* ``search``: an ASHA run (grace 1, reduction 3, max_t 9) holding out a fifth of
  the training images: trials pruned at epochs 1 and 3, completed at 9, one
  errored; the completed trial with the lower test error has the higher
  validation error (so a selection on the test set shows).
* ``attention_types`` is left out by default (a missing study); pass
  ``studies=ALL_STUDIES`` to write it too.
* ``notes/`` holds a text file and no Parquet (must be ignored).
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ran_core.common.studies import STUDY_NAMES
from ran_core.results import EPOCHS_SCHEMA, TRIALS_SCHEMA

__all__ = ["ALL_STUDIES", "DEFAULT_STUDIES", "write_fixture_results"]

ALL_STUDIES = STUDY_NAMES
DEFAULT_STUDIES = ("noise_robustness", "depth", "learning_mode", "search")

_CLASSES = {"cifar10": 10, "cifar100": 100, "digits": 10, "synthetic": 10}
_PARAMS = {
    "attention56": 850_000,
    "attention92": 1_900_000,
    "attention128": 2_800_000,
    "attention164": 3_700_000,
    "attention236": 5_100_000,
    "resnet56": 590_000,
    "resnet164": 1_700_000,
}


def _outcomes(error: float, k: int, rng: np.random.Generator, per_class: int = 20) -> tuple[list[int], bytes]:
    """(confusion matrix, flattened; test_correct bits) of a trial with round(per_class * error)
    mistakes in every class; the test set is per_class images of class 0, then of class 1, ..."""
    m = np.zeros((k, k), dtype=np.int64)
    correct = np.ones(k * per_class, dtype=bool)
    for i in range(k):
        wrong = int(round(per_class * error))
        m[i, i] = per_class - wrong
        correct[i * per_class + rng.choice(per_class, wrong, replace=False)] = False
        for _ in range(wrong):
            j = int(rng.integers(k - 1))
            m[i, j + (j >= i)] += 1
    return m.ravel().tolist(), np.packbits(correct).tobytes()


class _Study:
    def __init__(self, study: str, experiment_id: str):
        self.study, self.experiment_id = study, experiment_id
        self.trials: list[dict] = []
        self.epochs: list[dict] = []
        self.rng = np.random.default_rng(zlib.crc32(study.encode()))

    def add(
        self,
        *,
        model,
        dataset="cifar10",
        attention_type="mixed",
        learning_mode="arl",
        noise_ratio=0.0,
        seed=0,
        error=0.1,
        status="completed",
        epochs=4,
        epochs_run=None,
        width=1.0,
        validation_share=0.0,
        val_offset=0.0,
        learning_rate=0.1,
        weight_decay=1e-4,
        batch_size=64,
        log_epochs=True,
        error_message="RuntimeError: CUDA out of memory",
    ):
        if model.startswith("resnet"):
            attention_type = learning_mode = None
        trial_id = f"{self.study[:4]}_{len(self.trials):05d}"
        k = _CLASSES[dataset]
        if epochs_run is None:
            epochs_run = epochs if status == "completed" else (1 if status == "errored" else max(1, epochs // 3))
        # A curve that ends at ``error`` after the full budget; pruned trials stop higher.
        curve = [
            error + (0.6 - error) * np.exp(-1.2 * (e - 1)) * (e < epochs) + 0.02 * (epochs - e) / epochs
            for e in range(1, epochs_run + 1)
        ]
        final = float(curve[-1]) if status != "errored" else None
        confusion, correct = (None, None) if final is None else _outcomes(final, k, self.rng)
        noisy = noise_ratio > 0
        held_out = validation_share > 0
        self.trials.append(
            {
                "experiment_id": self.experiment_id,
                "study": self.study,
                "trial_id": trial_id,
                "status": status,
                "error": error_message if status == "errored" else None,
                "model": model,
                "attention_type": attention_type,
                "learning_mode": learning_mode,
                "noise_ratio": float(noise_ratio),
                "dataset": dataset,
                "width": float(width),
                "validation_share": float(validation_share),
                "split_seed": 0,
                "learning_rate": float(learning_rate),
                "weight_decay": float(weight_decay),
                "batch_size": batch_size,
                "epochs": epochs,
                "precision": "float32",
                "seed": seed,
                "momentum": 0.9,
                "lr_drops": [0.4, 0.6],
                "bn_momentum": 0.9,
                "augment": True,
                "steps_per_execution": 1,
                "data_dir": None,
                "node_id": "fixture-node-id",
                "num_classes": k,
                "params": int(_PARAMS.get(model, 1_000_000) * width**2),
                "epochs_run": epochs_run if status != "errored" else 0,
                "final_test_error": final,
                "best_test_error": None if final is None else float(min(curve)),
                "final_test_accuracy": None if final is None else 1 - final,
                "final_train_accuracy": None if final is None else 0.99 - 0.8 * noise_ratio,
                "final_clean_train_accuracy": (0.97 if final is not None else None) if noisy else None,
                "final_val_error": final + val_offset if held_out and final is not None else None,
                "test_confusion": confusion,
                "test_correct": correct,
                "wall_time_s": 12.5 * epochs_run,
                "images_per_s": 850.0 + seed,
                "node": "fixture-node",
                "accelerator": "cpu",
                "backend": "tensorflow",
                "keras_version": "3.15.1",
                "backend_version": "2.21.0",
                "ray_version": "2.60.0",
                "optuna_version": "5.0.0",
                "python_version": "3.11.7",
            }
        )
        if log_epochs and status != "errored":
            for e, err in enumerate(curve, start=1):
                self.epochs.append(
                    {
                        "experiment_id": self.experiment_id,
                        "study": self.study,
                        "trial_id": trial_id,
                        "epoch": e,
                        "train_loss": 2.0 / e,
                        "train_accuracy": 1 - err - 0.02,
                        "clean_train_accuracy": (1 - err) if noisy else None,
                        "test_loss": 1.5 / e,
                        "test_accuracy": 1 - err,
                        "test_error": float(err),
                        "val_loss": 1.5 / e if held_out else None,
                        "val_error": float(err) + val_offset if held_out else None,
                        "learning_rate": learning_rate,
                        "epoch_time_s": 12.5,
                        "images_per_s": 850.0,
                        "node_id": "fixture-node-id",
                    }
                )
        elif log_epochs and status == "errored":  # crashed during epoch 2: one epoch logged
            self.epochs.append(
                {
                    "experiment_id": self.experiment_id,
                    "study": self.study,
                    "trial_id": trial_id,
                    "epoch": 1,
                    "train_loss": 2.0,
                    "train_accuracy": 0.3,
                    "clean_train_accuracy": None,
                    "test_loss": 1.9,
                    "test_accuracy": 0.35,
                    "test_error": 0.65,
                    "learning_rate": learning_rate,
                    "epoch_time_s": 12.5,
                    "images_per_s": 850.0,
                }
            )
        return trial_id

    def write(self, root: Path, epochs: bool = True):
        d = root / self.study
        d.mkdir(parents=True, exist_ok=True)
        _write(pa.Table.from_pylist(self.trials, schema=TRIALS_SCHEMA), d / "trials.parquet")
        if epochs:
            _write(pa.Table.from_pylist(self.epochs, schema=EPOCHS_SCHEMA), d / "epochs.parquet")


def _write(table: pa.Table, path: Path):
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def _noise(root):
    s = _Study("noise_robustness", "noise_fixture")
    paper = {"resnet164": [5.46, 5.93, 6.61, 8.35, 17.21], "attention92": [4.99, 5.15, 5.79, 7.27, 15.75]}
    for model, errs in paper.items():
        for noise, err in zip([0.0, 0.1, 0.3, 0.5, 0.7], errs):
            for seed in (0, 1):
                s.add(model=model, noise_ratio=noise, seed=seed, error=err / 100 + 0.01 + 0.004 * seed)
    s.add(model="resnet164", noise_ratio=0.7, seed=2, error=0.2, status="pruned")
    s.add(model="attention92", noise_ratio=0.5, seed=2, error=0.1, status="errored")
    for model in ("attention56", "resnet56"):
        for noise in (0.0, 0.5):
            s.add(
                model=model,
                dataset="digits",
                noise_ratio=noise,
                width=0.25,
                epochs=3,
                error=0.05 + 0.3 * noise * (1.5 if model == "resnet56" else 1.0),
            )
    s.write(root)


def _depth(root):
    s = _Study("depth", "depth_fixture")
    for dataset, base in (("cifar10", 0.06), ("cifar100", 0.25)):
        for model, gain in (("attention56", 0.0), ("attention92", -0.005)):
            s.add(model=model, dataset=dataset, error=base + gain, epochs=3)
    s.add(
        model="attention236",
        dataset="cifar10",
        status="errored",
        epochs=3,
        error_message="ResourceExhaustedError: OOM when allocating tensor",
    )
    s.write(root)


def _attention_types(root):
    s = _Study("attention_types", "types_fixture")
    for att, err in (("mixed", 0.06), ("channel", 0.065), ("spatial", 0.07)):
        for seed in (0, 1):
            s.add(model="attention56", attention_type=att, seed=seed, error=err + 0.003 * seed, epochs=3)
    s.write(root)


def _learning_mode(root):
    s = _Study("learning_mode", "mode_fixture")
    for mode in ("arl", "nal"):
        for model in ("attention56", "attention92"):
            for seed in (0, 1):
                s.add(
                    model=model,
                    dataset="digits",
                    learning_mode=mode,
                    seed=seed,
                    width=0.25,
                    epochs=3,
                    error=0.05 + (0.02 if mode == "nal" else 0.0) + 0.002 * seed,
                )
    s.write(root, epochs=False)  # partial folder: epochs.parquet missing


def _search(root):
    s = _Study("search", "search_fixture")
    models = [
        "attention56",
        "resnet56",
        "attention92",
        "attention56",
        "resnet56",
        "attention56",
        "attention92",
        "attention56",
        "attention92",
    ]
    stops = [1, 1, 1, 1, 1, 3, 3, 9, 9]
    for i, (model, stop) in enumerate(zip(models, stops)):
        s.add(
            model=model,
            dataset="digits",
            epochs=9,
            epochs_run=stop,
            seed=i,
            status="completed" if stop == 9 else "pruned",
            error=0.04 + 0.01 * i,
            learning_rate=10 ** (-1 - 0.2 * i),
            weight_decay=1e-4 * (1 + i),
            batch_size=64 * (1 + i % 2),
            attention_type=["mixed", "channel", "spatial"][i % 3],
            learning_mode=["arl", "nal"][i % 2],
            noise_ratio=[0.0, 0.1][i % 2],
            width=0.25,
            validation_share=0.2,
            val_offset=0.03 if i == 7 else 0.0,  # the lower test error of the two completed is not chosen
        )
    s.add(model="attention92", dataset="digits", epochs=9, seed=99, status="errored", width=0.25, validation_share=0.2)
    s.write(root)


_WRITERS = {
    "noise_robustness": _noise,
    "depth": _depth,
    "attention_types": _attention_types,
    "learning_mode": _learning_mode,
    "search": _search,
}


def write_fixture_results(root, studies=DEFAULT_STUDIES) -> Path:
    """Write fixture study folders under ``root`` and return ``root`` as a Path."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    unknown = set(studies) - set(_WRITERS)
    if unknown:
        raise ValueError(f"Unknown fixture studies {sorted(unknown)}. Received: studies={studies!r}")
    for name in studies:
        _WRITERS[name](root)
    (root / "notes").mkdir(exist_ok=True)
    (root / "notes" / "README.txt").write_text("not a study folder\n")
    return root
