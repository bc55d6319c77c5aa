"""Sanity checks of the two-node harness in tests/ray_nodes.py.

A real head and a real second node on this machine, token authentication on.
Drivers run as subprocesses (``cluster.env``), so this pytest process never
holds Ray state or auth settings. Drivers attach to the head's raylet (Ray
prefers the head when several nodes share an IP), so killing the worker's
raylet never takes the driver with it.
"""

import json
import os
import stat
import subprocess
import sys
import time

import pytest

from ray_nodes import LocalRayCluster

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def cluster():
    with LocalRayCluster(num_cpus_head=1, num_cpus_worker=1, worker_resources={"worker_node": 1}) as c:
        yield c
    # Teardown stopped every process the harness started, and only those.
    assert c.processes() == []


def _results(stdout: str) -> list[dict]:
    return [json.loads(line[len("RESULT ") :]) for line in stdout.splitlines() if line.startswith("RESULT ")]


def test_token_auth_is_on(cluster):
    env = cluster.env
    assert env["RAY_AUTH_MODE"] == "token"
    assert env["RAY_ADDRESS"] == cluster.address
    assert "RAY_AUTH_TOKEN" not in env  # token travels as a file, not a variable
    token_file = env["RAY_AUTH_TOKEN_PATH"]
    assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
    assert len(cluster.token) == 64
    assert cluster.head_node_id != cluster.worker_node_id

    # A driver with the wrong token is turned away by the GCS. One connection
    # attempt instead of Ray's default ~20 s of retries.
    bad = dict(env, RAY_AUTH_TOKEN="0" * 64, RAY_gcs_server_port_wait_time_s="1")
    result = subprocess.run(
        [sys.executable, "-c", "import ray; ray.init(); print('CONNECTED')"],
        env=bad,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "CONNECTED" not in result.stdout
    assert "InvalidAuthToken" in result.stderr, result.stderr[-2000:]


DRIVER = r"""
import json, sys, time
import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

head_id, worker_id = sys.argv[1], sys.argv[2]
ray.init(log_to_driver=False)

@ray.remote(num_cpus=1)
def where():
    return ray.get_runtime_context().get_node_id()

def emit(**kw):
    print("RESULT " + json.dumps(kw), flush=True)

def alive():
    return {n["NodeID"]: n["Alive"] for n in ray.nodes()}

on_head = where.options(
    scheduling_strategy=NodeAffinitySchedulingStrategy(head_id, soft=False)
).remote()
on_worker = where.options(resources={"worker_node": 1}).remote()
emit(phase="before", head=ray.get(on_head, timeout=60),
     worker=ray.get(on_worker, timeout=60), alive=alive(),
     driver_node=ray.get_runtime_context().get_node_id())

sys.stdin.readline()  # the test kills the worker's raylet now

t0 = time.monotonic()
state = alive()
while state.get(worker_id) is not False and time.monotonic() - t0 < 60:
    time.sleep(0.25)
    state = alive()
detect_s = time.monotonic() - t0
after = ray.get([where.remote() for _ in range(3)], timeout=60)
emit(phase="after", alive=state, detect_s=detect_s, after=after,
     worker_node_resource=ray.cluster_resources().get("worker_node", 0))
"""


def test_tasks_reach_both_nodes_and_head_survives_worker_death(cluster):
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, cluster.head_node_id, cluster.worker_node_id],
        env=cluster.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        before = None
        deadline = time.monotonic() + 90
        while before is None and time.monotonic() < deadline:
            line = driver.stdout.readline()
            if not line:
                break
            if line.startswith("RESULT "):
                before = json.loads(line[len("RESULT ") :])
        assert before is not None, driver.stderr.read()[-3000:]
        assert before["head"] == cluster.head_node_id
        assert before["worker"] == cluster.worker_node_id
        assert before["driver_node"] == cluster.head_node_id
        assert before["alive"] == {
            cluster.head_node_id: True,
            cluster.worker_node_id: True,
        }

        raylet_pid = cluster.worker_raylet_pid
        head_pids = {p.pid for p in cluster.processes("head")}
        killed_pid = cluster.kill_worker_raylet()
        assert killed_pid == raylet_pid and killed_pid not in head_pids, "the worker's raylet, nothing of the head"
        driver.stdin.write("go\n")
        driver.stdin.flush()
        stdout, stderr = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            driver.kill()
            driver.wait()

    assert driver.returncode == 0, stderr[-3000:]
    (after,) = _results(stdout)
    assert after["alive"][cluster.worker_node_id] is False
    assert after["alive"][cluster.head_node_id] is True
    assert after["detect_s"] < 30, after
    assert after["after"] == [cluster.head_node_id] * 3
    assert after["worker_node_resource"] == 0

    # The worker's `ray start --block` took the rest of that node down; the
    # head's processes are all still there.
    deadline = time.monotonic() + 15
    while cluster.worker_alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not cluster.worker_alive()
    assert cluster.processes("head")
