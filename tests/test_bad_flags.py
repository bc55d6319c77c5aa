"""A table of bad sweep inputs: each must exit with status 2 and one line on stderr, before Ray or a
Keras backend is imported, writing nothing (no output folder, no storage folder; existing files
unchanged).

The table runs in one fresh Python process (`python tests/test_bad_flags.py ROOT`) that calls
`run_study` for every row, so "before Ray" is checked as "ray was never imported"; a few rows also
run as real subprocesses of the study scripts.
"""

import contextlib
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GB = "1e9"

# (script, flags, part of the error). Placeholders: {tmp} a scratch folder, {file} a regular file,
# {out} this row's --output; a row's setup (CORRUPT) prepares {out} first.
CASES = [
    ("noise_robustness", ["--seeds", "0"], "--seeds must be in [1, 1000]"),
    ("noise_robustness", ["--seeds", "5000"], "--seeds must be in [1, 1000]"),
    ("noise_robustness", ["--num-samples", "3"], "--num-samples does not apply"),
    ("noise_robustness", ["--epochs", "0"], "epochs must be an integer in [1, 1000]"),
    ("noise_robustness", ["--epochs", "100000000"], "Received: epochs=100000000"),
    ("noise_robustness", ["--width", GB], "Received: width=1000000000.0"),
    ("noise_robustness", ["--width", "0"], "width must be a number in"),
    ("noise_robustness", ["--width", "nan"], "Received: width=nan"),
    ("noise_robustness", ["--dataset", "mnist"], "Received: dataset='mnist'"),
    ("noise_robustness", ["--cpus-per-trial", "-1"], "--cpus-per-trial must be a positive number"),
    ("noise_robustness", ["--cpus-per-trial", "inf"], "--cpus-per-trial must be a positive number"),
    ("noise_robustness", ["--cpus-per-trial", "4096"], "but this machine has"),
    ("noise_robustness", ["--gpus-per-trial", "-1"], "--gpus-per-trial must be a positive number"),
    ("noise_robustness", ["--gpus-per-trial", "1.5"], "above 1 must be whole"),
    ("noise_robustness", ["--max-concurrent", "0"], "--max-concurrent must be in"),
    ("noise_robustness", ["--max-failures", "-1"], "--max-failures must be in [0, 100]"),
    ("noise_robustness", ["--max-failures", "1000"], "--max-failures must be in [0, 100]"),
    ("noise_robustness", ["--checkpoint-every", "-1"], "--checkpoint-every must be a number of seconds >= 0"),
    ("noise_robustness", ["--checkpoint-every", "nan"], "Received: --checkpoint-every nan"),
    ("noise_robustness", ["--dataset", "cifar10", "--data-dir", "/no/such/dir"], "does not exist"),
    ("noise_robustness", ["--data-dir", "{tmp}"], "--data-dir is read only by cifar10 and cifar100"),
    ("noise_robustness", ["--resume"], "no experiment recorded"),
    ("noise_robustness", ["--resume", "no-such-experiment"], "no such experiment"),
    ("noise_robustness", ["--storage", "nosuch://bucket/ran"], "scheme 'nosuch' is not supported"),
    ("noise_robustness", ["--storage", "{file}/sub"], "is a file, not a folder"),
    ("noise_robustness", ["--output", "{file}"], "--output must name a folder"),
    ("noise_robustness", ["--output", ""], "--output must name a folder. Received: --output ''"),
    ("noise_robustness", ["--storage", ""], "--storage must name a folder or a URI. Received: --storage ''"),
    ("noise_robustness", ["--storage", " "], "--storage must name a folder or a URI"),
    ("noise_robustness", ["--output", "{file}/sub"], "is a file, not a folder"),
    ("noise_robustness", ["--backend", "torch"], "invalid choice: 'torch'"),
    ("noise_robustness", ["--preset", "huge"], "invalid choice: 'huge'"),
    ("noise_robustness", ["--epochs", "four"], "invalid int value: 'four'"),
    ("noise_robustness", ["--scheduler", "hyperband"], "invalid choice: 'hyperband'"),
    ("noise_robustness", ["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (
        "noise_robustness",
        ["--scheduler", "asha", "--epochs", "4", "--grace-period", "10"],
        "exceeds the 4-epoch budget",
    ),
    ("noise_robustness", ["--grace-period", "0"], "--grace-period must be >= 1"),
    ("noise_robustness", ["--rank-by", "test_error"], "--rank-by: ASHA's flags, for --scheduler asha"),
    ("search", ["--rank-by", "accuracy"], "invalid choice: 'accuracy'"),
    ("search", ["--rank-by", "test_error"], "search selects on its validation split, so its early stopping"),
    ("depth", ["--scheduler", "asha", "--rank-by", "val_loss"], "depth holds out no validation split"),
    ("noise_robustness", ["--reduction-factor", "1"], "--reduction-factor must be in [2, 100]"),
    ("noise_robustness", ["--reduction-factor", "1000"], "--reduction-factor must be in [2, 100]"),
    ("noise_robustness", [], "trials.parquet' is not a readable Parquet file", "truncated_trials"),
    ("noise_robustness", [], "epochs.parquet' is not a readable Parquet file", "truncated_epochs"),
    ("noise_robustness", [], "optuna.db' is not a readable Optuna database", "corrupt_optuna"),
    ("noise_robustness", ["--resume", "--no-augment"], "--augment False (recorded: None)", "recorded_experiment"),
    ("search", ["--learning-rate", "0.05"], "search varies learning_rate (a grid or search dimension)"),
    (
        "noise_robustness",
        ["--resume", "--width", "0.5", "--epochs", "5"],
        "--epochs 5 (recorded: 4), --width 0.5 (recorded: 0.25)",
        "recorded_experiment",
    ),
    ("depth", ["--dataset", "cifar100", "--data-dir", "/no/such/dir"], "does not exist"),
    ("depth", ["--preset", "paper", "--dataset", "cifar10", "--data-dir", "{tmp}"], "CIFAR-10 copy at"),
    ("depth", ["--epochs", "2000"], "epochs must be an integer in [1, 1000]"),
    ("depth", ["--width", "1e-9"], "width must be a number in"),
    ("attention_types", ["--width", "5"], "width must be a number in [0.0625, 4.0]"),
    ("attention_types", ["--num-samples", "0"], "--num-samples must be in"),
    ("learning_mode", ["--epochs", "-3"], "epochs must be an integer"),
    ("learning_mode", ["--cpus-per-trial", "0"], "--cpus-per-trial must be a positive number"),
    ("search", ["--seeds", "2"], "search (TPE samples its trials)"),
    ("search", ["--num-samples", "0"], "--num-samples must be in [1, 100000]"),
    ("search", ["--num-samples", "1000000"], "--num-samples must be in [1, 100000]"),
    ("search", ["--epochs", "6", "--grace-period", "7"], "exceeds the 6-epoch budget"),
    ("search", ["--max-concurrent", "-2"], "--max-concurrent must be in"),
    ("search", ["--storage", "s3://ran-sweeps-no-such-bucket-4f2a/ran"], "--storage 's3://ran-sweeps-no-such-bucket"),
]
if not Path("/proc/driver/nvidia/gpus").is_dir():  # no GPU here: half a card is more than there is
    CASES.append(("noise_robustness", ["--gpus-per-trial", "0.5"], "but this machine has 0 GPU(s)"))


def _setup(kind, out):
    """Prepares an existing result folder for the rows that need one."""
    out.mkdir(parents=True)
    good = b"PAR1" + b"\0" * 64  # a Parquet magic number with nothing valid after it
    if kind == "truncated_trials":
        (out / "trials.parquet").write_bytes(good)
    elif kind == "truncated_epochs":
        (out / "epochs.parquet").write_bytes(good)
    elif kind == "corrupt_optuna":
        (out / "optuna.db").write_bytes(b"this is not an sqlite database" * 10)
    elif kind == "recorded_experiment":
        from ran_core.sweep.experiments import record

        record(
            out,
            "noise_robustness-smoke-old",
            str(out.parent / "storage"),
            "noise_robustness",
            [],
            {
                "preset": "smoke",
                "dataset": None,
                "data_dir": None,
                "num_samples": 10,
                "seeds": 1,
                "epochs": 4,
                "width": 0.25,
                "scheduler": "fifo",
                "grace_period": None,
                "reduction_factor": 3,
                "backend": "tensorflow",
            },
        )


def _snapshot(folder):
    if not folder.exists():
        return None
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.rglob("*") if p.is_file()
    }


def run_table(root):
    """Runs every row in this process; returns one dict per row (status, stderr, what changed)."""
    from ran_core.sweep.runner import run_study

    scratch, afile = root / "scratch", root / "a_file"
    scratch.mkdir()
    afile.write_text("not a folder")
    outcomes = []
    for index, (script, flags, _, *setup) in enumerate(CASES):
        out, storage = root / f"case{index}" / "out", root / f"case{index}" / "storage"
        if setup:
            _setup(setup[0], out)
        flags = [f.format(tmp=scratch, file=afile, out=out) for f in flags]
        before = _snapshot(out)
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            status = run_study(_presets(script), ["--output", str(out), "--storage", str(storage), *flags])
        outcomes.append(
            {
                "status": status,
                "stderr": stderr.getvalue(),
                "output_unchanged": _snapshot(out) == before,
                "storage_absent": not storage.exists(),
                "ray_imported": "ray" in sys.modules,
                "backend_imported": sorted({"keras", "tensorflow", "jax"} & set(sys.modules)),
            }
        )
    return outcomes


def _presets(script):
    spec = importlib.util.spec_from_file_location(script, ROOT / "sweeps" / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PRESETS


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad_flags")
    run = subprocess.run(
        [sys.executable, __file__, str(root)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "RAN_STORAGE": str(root / "default_storage")},
        cwd=root,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_the_table_holds_at_least_40_bad_inputs_across_every_study():
    assert len(CASES) >= 40
    assert {case[0] for case in CASES} == {p.stem for p in (ROOT / "sweeps").glob("*.py")}


@pytest.mark.parametrize("index", range(len(CASES)), ids=[" ".join([c[0], *c[1]]) or c[0] for c in CASES])
def test_bad_input_exits_2_with_one_line_before_ray_writing_nothing(outcomes, index):
    script, flags, message, *_ = CASES[index]
    outcome = outcomes[index]
    assert outcome["status"] == 2, outcome
    lines = outcome["stderr"].splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines
    assert not outcome["ray_imported"]
    assert not outcome["backend_imported"], "validating flags needs no Keras (ran_core.model.architectures)"
    assert outcome["output_unchanged"] and outcome["storage_absent"]


# TensorFlow's C++ start-up log goes to stderr when the study scripts import Keras; not ours to judge.
TF_LOG = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\)|[IWE]\d{4} \d\d:\d\d:\d\d)")


@pytest.mark.parametrize(
    "script,flags,message",
    [
        ("noise_robustness", ["--width", GB], "Received: width=1000000000.0"),
        ("depth", ["--epochs", "100000000"], "Received: epochs=100000000"),
        ("attention_types", ["--cpus-per-trial", "64"], "--cpus-per-trial 64 but this machine has"),
        ("learning_mode", ["--storage", "nosuch://bucket"], "is not supported"),
        ("search", ["--dataset", "cifar10", "--data-dir", "/no/such/dir"], "does not exist"),
    ],
)
def test_study_scripts_answer_bad_flags_with_one_line_and_status_2(script, flags, message, tmp_path):
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "sweeps" / f"{script}.py"),
            "--output",
            str(tmp_path / "out"),
            "--storage",
            str(tmp_path / "storage"),
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    lines = [line for line in run.stderr.splitlines() if not TF_LOG.match(line)]
    assert run.returncode == 2 and len(lines) == 1 and message in lines[0], run.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "storage").exists()


if __name__ == "__main__":
    print(json.dumps(run_table(Path(sys.argv[1]))))
