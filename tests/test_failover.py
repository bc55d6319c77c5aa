"""A sweep survives losing a node: a real head and a real second Ray node on this machine (token
authentication on); the second node's raylet is killed mid-trial, and the interrupted trial resumes
from its last checkpoint on the head."""

import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ran_core.results import read_results

from ray_nodes import LocalRayCluster

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 6  # enough that the second node is killed before its trial ends (results are flushed every 10 s)
# The model does not matter here, only where its epochs ran: the smallest width, synthetic data.
TINY_WORKLOAD = ("--width", "0.0625", "--dataset", "synthetic")
pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]


def test_trial_resumes_on_the_surviving_node_and_every_trial_lands_once(tmp_path):
    out, storage = tmp_path / "out", tmp_path / "storage"
    with LocalRayCluster(num_cpus_head=1, num_cpus_worker=1) as cluster:
        started = time.monotonic()
        driver = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "sweeps" / "depth.py"),
                "--address",
                cluster.address,
                "--epochs",
                str(EPOCHS),
                "--seeds",
                "1",
                *TINY_WORKLOAD,
                "--checkpoint-every",
                "0",  # every epoch: the retry continues after the last epoch the dead node finished
                "--max-concurrent",
                "2",
                "--output",
                str(out),
                "--storage",
                str(storage),
            ],
            env=cluster.env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        killed_after = None
        while time.monotonic() - started < 600 and driver.poll() is None:
            rows = read_results(out, "epochs").to_pylist()  # mid-run: the recorder's parts
            on_worker = [r for r in rows if r["node_id"] == cluster.worker_node_id]
            if on_worker:
                victim = on_worker[0]["trial_id"]
                killed_after = max(r["epoch"] for r in on_worker if r["trial_id"] == victim)
                killed_at = time.monotonic() - started
                cluster.kill_worker_raylet()
                break
            time.sleep(0.5)
        assert killed_after is not None and killed_after < EPOCHS, "no epoch ran on the second node in time"
        output, _ = driver.communicate(timeout=600)
        total = time.monotonic() - started
        assert driver.returncode == 0, output[-4000:]
        assert not cluster.worker_alive()

    trials = pq.read_table(out / "trials.parquet").to_pylist()
    assert sorted(r["model"] for r in trials) == ["attention56", "attention92"]
    assert all(r["status"] == "completed" and r["epochs_run"] == EPOCHS for r in trials)
    epochs = pq.read_table(out / "epochs.parquet").to_pylist()
    keys = [(r["trial_id"], r["epoch"]) for r in epochs]
    assert len(keys) == len(set(keys)) == 2 * EPOCHS, "every epoch of every trial exactly once"
    nodes = [node for _, node in sorted((r["epoch"], r["node_id"]) for r in epochs if r["trial_id"] == victim)]
    resumed_at = nodes.index(cluster.head_node_id) + 1  # first epoch trained after the failure
    assert nodes == [cluster.worker_node_id] * (resumed_at - 1) + [cluster.head_node_id] * (EPOCHS - resumed_at + 1)
    assert resumed_at > killed_after, "resumed from its checkpoint, not from scratch"
    print(
        f"\nfailover timeline: trial {victim} ran epochs 1-{resumed_at - 1} on the second node, which was "
        f"killed {killed_at:.0f}s into the sweep; epochs {resumed_at}-{EPOCHS} ran on the head after the "
        f"retry restored its checkpoint; sweep done in {total:.0f}s"
    )
