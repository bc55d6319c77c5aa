"""A real two-node Ray cluster on one machine, for multi-node tests.

``LocalRayCluster`` starts a head node and a second (worker) node with
``ray start --block`` as subprocesses of the test, with token authentication
ON (``RAY_AUTH_MODE=token``, a fresh random token in a private file pointed to
by ``RAY_AUTH_TOKEN_PATH``), every port it can choose picked free, and a
private ``--temp-dir``, so it never collides with another Ray instance on the
machine and never reads or writes ``~/.ray/auth_token``.

    with LocalRayCluster(worker_resources={"worker_node": 1}) as cluster:
        cluster.address, cluster.head_node_id, cluster.worker_node_id
        out = cluster.run_driver(DRIVER_CODE)      # env: RAY_ADDRESS + auth
        subprocess.Popen([...], env=cluster.env)   # or a driver of your own
        cluster.kill_worker_raylet()               # the second node dies

Drivers attach to the head's raylet (Ray prefers the head when several nodes
share an IP), so killing the worker never kills a driver. Ray replaces
127.0.0.1 by the machine's IP; ``address`` is what the head reports.

Teardown never calls ``ray stop`` (that stops every Ray instance on the
machine). It sends SIGTERM to the two ``ray start --block`` processes, then
SIGKILLs whatever is left of the processes this harness started: the
descendants of those two processes and any process carrying this instance's
marker variable, each remembered by (PID, start time) once seen. No other
process on the machine is touched.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

# The node processes carry this variable; its value is unique per instance.
MARKER_ENV = "RAN_TEST_RAY_NODE"
# Variables that would point a child at another cluster or another token.
_INHERITED_RAY_VARS = (
    "RAY_ADDRESS",
    "RAY_AUTH_MODE",
    "RAY_AUTH_TOKEN",
    "RAY_AUTH_TOKEN_PATH",
    MARKER_ENV,
)
_RAY_STARTED = "Ray runtime started."


def free_port() -> int:
    """A TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def _ray_executable() -> str:
    """The `ray` CLI of the interpreter running the tests."""
    candidate = Path(sys.executable).with_name("ray")
    if candidate.exists():
        return str(candidate)
    found = shutil.which("ray")
    if found is None:
        raise RuntimeError(f"No `ray` executable next to {sys.executable} or on PATH; install ray[default].")
    return found


class LocalRayCluster:
    """A Ray head plus one worker node on this machine, token auth on.

    Args:
        num_cpus_head: CPUs the head advertises.
        num_cpus_worker: CPUs the worker node advertises.
        worker_resources: custom resources of the worker node, so a task can be
            pinned to it (``resources={"worker_node": 1}``). Default
            ``{"worker_node": 1}``.
        head_resources: custom resources of the head node (default none).
        temp_dir: root for both nodes' Ray temp dirs, logs and the token file.
            Default: a fresh ``/tmp/rayt_*`` directory, removed on teardown (a
            given one is kept). Keep it short: Ray's Unix socket paths live
            under it and are limited to about 107 characters.
        object_store_memory: bytes of object store per node (Ray's minimum is
            75 MB); small by default to be gentle on a shared machine.
        health_check_period_ms, health_check_failure_threshold: how quickly the
            GCS declares a dead node dead (about period x threshold). Ray's
            defaults (3000 ms x 5) are slow for a test.
        start_timeout_s: how long each node may take to start.
        extra_env: more variables for the node processes (e.g. ``RAY_*``
            system-config overrides).
    """

    def __init__(
        self,
        num_cpus_head: int = 1,
        num_cpus_worker: int = 1,
        worker_resources: dict | None = None,
        head_resources: dict | None = None,
        temp_dir: str | os.PathLike | None = None,
        object_store_memory: int = 100 * 1024 * 1024,
        health_check_period_ms: int = 1000,
        health_check_failure_threshold: int = 5,
        start_timeout_s: float = 60.0,
        extra_env: dict | None = None,
    ):
        self.num_cpus_head = num_cpus_head
        self.num_cpus_worker = num_cpus_worker
        self.worker_resources = {"worker_node": 1} if worker_resources is None else dict(worker_resources)
        self.head_resources = dict(head_resources or {})
        self.object_store_memory = object_store_memory
        self.health_check_period_ms = health_check_period_ms
        self.health_check_failure_threshold = health_check_failure_threshold
        self.start_timeout_s = start_timeout_s
        self.extra_env = dict(extra_env or {})
        self._given_temp_dir = temp_dir
        self._owns_temp_dir = temp_dir is None

        self.temp_dir: Path | None = None
        self.token_path: Path | None = None
        self.port: int | None = None
        self.address: str | None = None
        self.head_node_id: str | None = None
        self.worker_node_id: str | None = None
        self._marker = f"{os.getpid()}-{secrets.token_hex(8)}"
        self._procs: dict[str, subprocess.Popen] = {}
        self._seen: dict[tuple, tuple] = {}
        self._logs: dict[str, Path] = {}
        self._log_files: list = []
        self._started = False
        self._shut_down = False

    # ----------------------------------------------------------------- start

    def start(self) -> LocalRayCluster:
        if self._started:
            raise RuntimeError("LocalRayCluster.start() called twice")
        self._started = True
        # Last resort if the test process exits without teardown.
        atexit.register(self.shutdown)
        try:
            self._prepare_dirs()
            self.port = free_port()
            self._start_node("head", self._head_args())
            self.address = self._read_address()
            self.head_node_id = self._node_id_of("head")
            self._start_node("worker", self._worker_args())
            self.worker_node_id = self._node_id_of("worker")
        except BaseException:
            self.shutdown()
            raise
        return self

    def _prepare_dirs(self) -> None:
        if self._owns_temp_dir:
            self.temp_dir = Path(tempfile.mkdtemp(prefix="rayt_", dir="/tmp"))
        else:
            self.temp_dir = Path(self._given_temp_dir).resolve()
            self.temp_dir.mkdir(parents=True, exist_ok=True)
        self.token_path = self.temp_dir / "auth_token"
        # Same format as `ray get-auth-token --generate` (256 random bits).
        self.token_path.write_text(secrets.token_hex(32))
        self.token_path.chmod(0o600)

    def _common_args(self, role: str) -> list[str]:
        return [
            _ray_executable(),
            "start",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--temp-dir={self.temp_dir / role}",
            f"--object-store-memory={self.object_store_memory}",
            # Random worker ports and agent ports instead of Ray's fixed
            # defaults (10002-19999, 52365), which another instance may hold.
            "--min-worker-port=0",
            "--max-worker-port=0",
            "--dashboard-agent-listen-port=0",
            "--disable-usage-stats",
        ]

    def _head_args(self) -> list[str]:
        args = self._common_args("head") + [
            "--head",
            f"--port={self.port}",
            f"--num-cpus={self.num_cpus_head}",
            "--include-dashboard=false",
            f"--dashboard-port={free_port()}",
            f"--ray-client-server-port={free_port()}",
        ]
        if self.head_resources:
            args.append(f"--resources={_json(self.head_resources)}")
        return args

    def _worker_args(self) -> list[str]:
        args = self._common_args("worker") + [
            f"--address={self.address}",
            f"--num-cpus={self.num_cpus_worker}",
        ]
        if self.worker_resources:
            args.append(f"--resources={_json(self.worker_resources)}")
        return args

    def _node_env(self, role: str) -> dict:
        env = self._clean_env()
        env.update(self._auth_env())
        env.update(
            {
                MARKER_ENV: f"{self._marker}:{role}",
                # Fast, deterministic teardown: no 30 s drain on SIGTERM.
                "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0",
                "RAY_health_check_period_ms": str(self.health_check_period_ms),
                "RAY_health_check_timeout_ms": str(self.health_check_period_ms),
                "RAY_health_check_failure_threshold": str(self.health_check_failure_threshold),
                "RAY_USAGE_STATS_ENABLED": "0",
            }
        )
        env.update({k: str(v) for k, v in self.extra_env.items()})
        return env

    def _start_node(self, role: str, args: list[str]) -> None:
        log_path = self.temp_dir / f"{role}.log"
        log = open(log_path, "wb")  # noqa: SIM115 (stays open while the node runs; closed in shutdown)
        self._log_files.append(log)
        self._logs[role] = log_path
        self._procs[role] = subprocess.Popen(
            args,
            env=self._node_env(role),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Own process group: a Ctrl-C in the test terminal does not hit it.
            start_new_session=True,
        )
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if _RAY_STARTED in log_path.read_text(errors="replace"):
                return
            if self._procs[role].poll() is not None:
                raise RuntimeError(
                    f"`ray start` for the {role} node exited with code "
                    f"{self._procs[role].returncode}:\n{self.log_tail(role)}"
                )
            time.sleep(0.2)
        raise TimeoutError(f"The {role} node did not start within {self.start_timeout_s} s:\n{self.log_tail(role)}")

    def _read_address(self) -> str:
        # `ray start` writes the GCS address it bound (Ray replaces 127.0.0.1
        # by the machine's IP) into <temp-dir>/ray_current_cluster.
        path = self.temp_dir / "head" / "ray_current_cluster"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if path.exists() and path.read_text().strip():
                return path.read_text().strip()
            time.sleep(0.1)
        raise RuntimeError(f"{path} was not written:\n{self.log_tail('head')}")

    # ------------------------------------------------------------ properties

    def _clean_env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in _INHERITED_RAY_VARS}
        return env

    def _auth_env(self) -> dict:
        # RAY_AUTH_TOKEN_PATH rather than RAY_AUTH_TOKEN: the token does not
        # show up in every child's environment, and ~/.ray/auth_token (which
        # other Ray users of this machine may own) is never consulted.
        return {
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(self.token_path),
        }

    @property
    def env(self) -> dict:
        """Environment for a driver subprocess: ``RAY_ADDRESS`` plus auth.

        A driver needs ``RAY_AUTH_MODE=token`` explicitly: Ray 2.60 only turns
        token mode on by itself for ``ray.init()`` without an address.
        """
        if self.address is None:
            raise RuntimeError("The cluster is not started")
        env = self._clean_env()
        env.update(self._auth_env())
        env["RAY_ADDRESS"] = self.address
        env["RAY_USAGE_STATS_ENABLED"] = "0"
        return env

    @property
    def token(self) -> str:
        return self.token_path.read_text().strip()

    def log_tail(self, role: str, chars: int = 4000) -> str:
        path = self._logs.get(role)
        if path is None or not path.exists():
            return "(no log)"
        return path.read_text(errors="replace")[-chars:]

    # ------------------------------------------------------------- processes

    def processes(self, role: str | None = None) -> list[psutil.Process]:
        """Live processes this harness started (``role``: head or worker).

        A process counts as started by a node if it descends from that node's
        ``ray start`` process or carries that node's marker variable. Every
        process seen is remembered by (PID, start time), so one orphaned later
        (a raylet's workers after ``kill_worker_raylet``) or renamed by Ray's
        setproctitle (which hides its environment) is still found, and a
        reused PID never matches.
        """
        for r in ("head", "worker"):
            self._scan(r)
        roles = (role,) if role else ("head", "worker")
        alive = []
        for r, proc in list(self._seen.values()):
            if r in roles and _alive(proc):
                alive.append(proc)
        return alive

    def _scan(self, role: str) -> None:
        found: list[psutil.Process] = []
        popen = self._procs.get(role)
        # Only a Popen not yet reaped still owns its PID.
        if popen is not None and popen.poll() is None:
            try:
                root = psutil.Process(popen.pid)
                found.append(root)
                found.extend(root.children(recursive=True))
            except psutil.Error:
                pass
        marker = f"{self._marker}:{role}"
        me = os.getpid()
        for proc in psutil.process_iter():
            if proc.pid == me:
                continue
            try:
                if proc.environ().get(MARKER_ENV) == marker:
                    found.append(proc)
            except psutil.Error:
                continue
        for proc in found:
            try:
                self._seen.setdefault((proc.pid, proc.create_time()), (role, proc))
            except psutil.Error:
                continue

    def _raylet(self, role: str) -> psutil.Process:
        for proc in self.processes(role):
            try:
                if proc.name() == "raylet":
                    return proc
            except psutil.Error:
                continue
        raise RuntimeError(f"No raylet of the {role} node is running")

    def _node_id_of(self, role: str) -> str:
        cmdline = " ".join(self._raylet(role).cmdline())
        match = re.search(r"--node_id=([0-9a-f]+)", cmdline)
        if match is None:
            raise RuntimeError(f"No --node_id in the {role} raylet's command line")
        return match.group(1)

    @property
    def worker_raylet_pid(self) -> int:
        return self._raylet("worker").pid

    def kill_worker_raylet(self, sig: int = signal.SIGKILL) -> int:
        """Kill the worker node's raylet (only it); return its PID.

        Its ``ray start --block`` parent notices within a second and kills the
        rest of that node, as when a machine disappears; the head is untouched.
        """
        raylet = self._raylet("worker")
        raylet.send_signal(sig)
        try:
            raylet.wait(timeout=10)
        except psutil.TimeoutExpired:
            raise RuntimeError(f"raylet {raylet.pid} survived signal {sig}") from None
        return raylet.pid

    def worker_alive(self) -> bool:
        """Whether any process of the worker node is still running."""
        return bool(self.processes("worker"))

    # ---------------------------------------------------------------- driver

    def driver_command(self, code: str) -> list[str]:
        return [sys.executable, "-c", code]

    def run_driver(self, code: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``python -c code`` against the cluster (``self.env``)."""
        result = subprocess.run(
            self.driver_command(code),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=str(self.temp_dir),
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"driver exited with {result.returncode}\n"
                f"--- stdout\n{result.stdout[-4000:]}\n"
                f"--- stderr\n{result.stderr[-4000:]}"
            )
        return result

    # -------------------------------------------------------------- teardown

    def shutdown(self, grace_s: float = 5.0) -> None:
        """Stop everything this harness started; never `ray stop`. Idempotent."""
        if self._shut_down:
            return
        self._shut_down = True
        atexit.unregister(self.shutdown)
        # Snapshot the trees while their roots still own their PIDs.
        self.processes()
        for role in ("worker", "head"):
            popen = self._procs.get(role)
            if popen is not None and popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for popen in self._procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        # Whatever is left (or was orphaned earlier) dies now.
        for _ in range(3):
            leftovers = self.processes()
            if not leftovers:
                break
            for proc in leftovers:
                with contextlib.suppress(psutil.Error):
                    proc.kill()
            psutil.wait_procs(leftovers, timeout=5)
        for popen in self._procs.values():
            if popen.poll() is None:
                popen.kill()
            popen.wait(timeout=5)
        for log in self._log_files:
            log.close()
        self._log_files.clear()
        if self._owns_temp_dir and self.temp_dir is not None:
            shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> LocalRayCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.shutdown()


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _json(obj) -> str:
    import json

    return json.dumps(obj, separators=(",", ":"))
