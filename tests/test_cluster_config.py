"""Offline checks of every shipped Ray cluster config (cluster*.yaml).

Each file goes through what `ray up` does before it talks to a cloud: Ray's
own default filling (``prepare_config``: provider defaults, merged setup
commands, per-type worker limits, on-prem node type) and validation
(``validate_config``: ray-schema.json plus the head-node-type rules). No
cloud API is called.

On top of Ray's schema, the promises docs/cluster.md makes: dashboard on the
head's loopback only, token authentication on for every node, no credentials
in the files, the Ray image pinned to the version in pyproject.toml, the
project installed from the uploaded tree, result storage set in one place.
Each promise is a function returning its violations, and each is also run
on a deliberately broken copy, so none of them can pass vacuously.
"""

import copy
import re
import shlex
from pathlib import Path

import jsonschema
import pytest
import ray
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[1]
CONFIG_FILES = sorted(REPO.glob("cluster*.yaml"))
TOKEN_MOUNT = "~/.ray/auth_token"  # local token, `ray get-auth-token --generate`
CONTAINER_HOME = "/home/ray"  # home of the user in rayproject/ray images


def load(path: Path) -> dict:
    with open(path) as f:
        return yaml.safe_load(f)


def prepare_and_validate(config: dict) -> dict:
    """What `ray up` does to a config before it needs the cloud."""
    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    return prepared


def pyproject() -> dict:
    with open(REPO / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def pinned_ray_version() -> str:
    for dep in pyproject()["project"]["dependencies"]:
        match = re.fullmatch(r"ray(\[[^\]]*\])?==([0-9.]+)", dep.replace(" ", ""))
        if match:
            return match.group(2)
    raise AssertionError("pyproject.toml pins no ray version")


@pytest.fixture(params=CONFIG_FILES, ids=lambda p: p.name)
def config_file(request) -> Path:
    return request.param


# ------------------------------------------------------------------ helpers


def ray_start_commands(config: dict, head: bool) -> list[str]:
    key = "head_start_ray_commands" if head else "worker_start_ray_commands"
    return [c for c in config.get(key, []) if "ray start" in c]


def docker_env(config: dict, head: bool) -> dict:
    """Variables set with --env/-e in the container's run options."""
    docker = config.get("docker") or {}
    options = list(docker.get("run_options", []))
    options += docker.get("head_run_options" if head else "worker_run_options", [])
    words = shlex.split(" ".join(options))
    env = {}
    for i, word in enumerate(words):
        value = None
        if word in ("--env", "-e") and i + 1 < len(words):
            value = words[i + 1]
        elif word.startswith("--env="):
            value = word[len("--env=") :]
        if value and "=" in value:
            name, _, val = value.partition("=")
            env[name] = val
    return env


def docker_images(config: dict) -> list[str]:
    docker = config.get("docker") or {}
    images = [docker[k] for k in ("image", "head_image", "worker_image") if k in docker]
    for node_type in (config.get("available_node_types") or {}).values():
        image = (node_type.get("docker") or {}).get("worker_image")
        if image:
            images.append(image)
    return images


def project_mount(config: dict) -> str | None:
    """The remote path the repository (local ".") is uploaded to."""
    for remote, local in config.get("file_mounts", {}).items():
        if Path(local).expanduser().resolve() == REPO or local in (".", "./"):
            return remote.rstrip("/")
    return None


# ------------------------------------------------------------------ promises


def dashboard_problems(config: dict) -> list[str]:
    problems = []
    head = ray_start_commands(config, head=True)
    if not head:
        problems.append("no `ray start --head` in head_start_ray_commands")
    for cmd in head:
        if "--dashboard-host=127.0.0.1" not in cmd.split():
            problems.append(f"head start without --dashboard-host=127.0.0.1: {cmd}")
    commands = [c for key in ("head_start_ray_commands", "worker_start_ray_commands") for c in config.get(key, [])]
    for cmd in commands:
        if "0.0.0.0" in cmd or "--dashboard-host=localhost" in cmd:
            problems.append(f"dashboard or port bound beyond loopback: {cmd}")
    docker = config.get("docker") or {}
    for key in ("run_options", "head_run_options", "worker_run_options"):
        for opt in docker.get(key, []):
            if re.match(r"^(-p\b|--publish\b|-P\b|--publish-all\b)", opt):
                problems.append(f"docker publishes a port: {opt}")
    return problems


def token_auth_problems(config: dict, text: str) -> list[str]:
    problems = []
    if re.search(r"RAY_AUTH_MODE\s*=\s*(?!token\b)\w+", text):
        problems.append("RAY_AUTH_MODE set to something other than token")
    for head in (True, False):
        role = "head" if head else "worker"
        commands = ray_start_commands(config, head)
        if not commands:
            problems.append(f"no `ray start` in the {role} start commands")
        container_mode = docker_env(config, head).get("RAY_AUTH_MODE")
        for cmd in commands:
            if "RAY_AUTH_MODE=token" not in cmd and container_mode != "token":
                problems.append(f"{role} `ray start` without RAY_AUTH_MODE=token")
    # The token reaches every node as Ray's default token file.
    mounts = config.get("file_mounts", {})
    token_targets = [r for r, local in mounts.items() if local == TOKEN_MOUNT]
    if not token_targets:
        problems.append(f"no file_mount of the local token {TOKEN_MOUNT}")
    home = CONTAINER_HOME if config.get("docker") else "~"
    for target in token_targets:
        if target not in (f"{home}/.ray/auth_token", "~/.ray/auth_token"):
            problems.append(f"token mounted at {target}, not {home}/.ray/auth_token")
    return problems


SECRET_PATTERNS = {
    "AWS access key id": r"\b(AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b",
    "AWS secret key setting": r"(?i)aws_?secret_?access_?key|aws_?session_?token",
    "40-character secret": r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])",
    "private key": r"-----BEGIN [A-Z ]*PRIVATE KEY-----",
    "Ray token": r"\b[0-9a-f]{64}\b",
    "Ray token variable": r"RAY_AUTH_TOKEN\s*[=:]",
    "password": r"(?i)\bpassword\s*[:=]\s*\S",
}


def secret_problems(text: str) -> list[str]:
    return [
        f"{name}: {match.group(0)[:12]}..."
        for name, pattern in SECRET_PATTERNS.items()
        for match in re.finditer(pattern, text)
    ]


def image_problems(config: dict) -> list[str]:
    version = pinned_ray_version()
    images = docker_images(config)
    problems = [] if images else ["no docker image"]
    for image in images:
        match = re.fullmatch(r"rayproject/ray:(\d+\.\d+\.\d+)-py311-(gpu|cpu|cu\d+)", image)
        if match is None:
            problems.append(f"image not pinned to <version>-py311-<platform>: {image}")
        elif match.group(1) != version:
            problems.append(f"image {image} is not Ray {version} (pyproject.toml)")
    return problems


def install_problems(config: dict) -> list[str]:
    """Head and workers `pip install -e` the uploaded project with a known extra."""
    remote = project_mount(config)
    if remote is None:
        return ["the repository is not in file_mounts"]
    extras = set(pyproject()["project"]["optional-dependencies"])
    problems = []
    prepared = prepare_and_validate(config)
    for key, wanted in (("head_setup_commands", None), ("worker_setup_commands", "jax-cuda")):
        found = []
        for cmd in prepared[key]:
            found += re.findall(rf"pip install -e \"?{re.escape(remote)}\[([\w,-]+)\]\"?", cmd)
        if not found:
            problems.append(f"{key} do not `pip install -e {remote}[...]`")
        for group in found:
            unknown = set(group.split(",")) - extras
            if unknown:
                problems.append(f"{key}: unknown extras {sorted(unknown)}")
        if wanted and not any(wanted in g.split(",") for g in found):
            problems.append(f"{key} do not install the {wanted} extra")
    return problems


def storage_problems(text: str) -> list[str]:
    lines = [line.split("#", 1)[0] for line in text.splitlines()]
    settings = [line for line in lines if re.search(r"\bRAN_STORAGE=", line)]
    if len(settings) != 1:
        return [f"RAN_STORAGE is set {len(settings)} times, not once"]
    return []


def head_trial_problems(config: dict) -> list[str]:
    """The head runs the driver only: it advertises no CPU to trials."""
    node_types = config.get("available_node_types") or {}
    head_type = node_types.get(config.get("head_node_type"), {})
    if head_type.get("resources", {}).get("CPU") == 0:
        return []
    if all("--num-cpus=0" in c.split() for c in ray_start_commands(config, True)):
        return []
    return ["the head advertises CPUs, so trials may land on it"]


def aws_problems(config: dict, text: str) -> list[str]:
    problems = []
    group = config["provider"].get("security_group", {})
    if group.get("IpPermissions"):
        problems.append("extra inbound rules beyond SSH + intra-cluster")
    if "0.0.0.0/0" in text:
        problems.append("a rule open to 0.0.0.0/0")
    head = config["head_node_type"]
    for name, node_type in config["available_node_types"].items():
        node_config = node_type["node_config"]
        if "SecurityGroupIds" in node_config:
            problems.append(f"{name} uses a security group of unknown rules")
        market = node_config.get("InstanceMarketOptions", {}).get("MarketType")
        if name == head and market == "spot":
            problems.append("the head is a spot instance")
        if name != head:
            if market != "spot":
                problems.append(f"worker type {name} is not spot")
            if node_type.get("min_workers", 0) != 0:
                problems.append(f"worker type {name} does not scale to zero")
    if config.get("provider", {}).get("cache_stopped_nodes", True):
        problems.append("cache_stopped_nodes is on (spot nodes cannot stop)")
    if "idle_timeout_minutes" not in config:
        problems.append("no idle_timeout_minutes")
    return problems


# ------------------------------------------------------- the shipped configs


def test_both_cluster_configs_are_shipped():
    names = {p.name for p in CONFIG_FILES}
    assert {"cluster.yaml", "cluster-onprem.yaml"} <= names


def test_ray_accepts_config(config_file):
    raw = load(config_file)
    prepared = prepare_and_validate(raw)
    assert raw["provider"]["type"] in ("aws", "local")
    assert prepared["head_node_type"] in prepared["available_node_types"]
    if "available_node_types" in raw:  # on-prem gets its node type from Ray
        assert raw["head_node_type"] in raw["available_node_types"]
    # Ray's own defaults did not drop or replace the commands of the file.
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        assert prepared[key] == raw[key]


def test_dashboard_on_loopback_only(config_file):
    assert dashboard_problems(load(config_file)) == []


def test_token_auth_on_every_node(config_file):
    assert token_auth_problems(load(config_file), config_file.read_text()) == []


def test_no_credentials_in_file(config_file):
    assert secret_problems(config_file.read_text()) == []


def test_ray_image_pinned_to_project_version(config_file):
    assert pinned_ray_version() == ray.__version__
    assert image_problems(load(config_file)) == []


def test_project_installed_from_upload(config_file):
    assert install_problems(load(config_file)) == []


def test_result_storage_set_in_one_place(config_file):
    assert storage_problems(config_file.read_text()) == []


def test_head_runs_no_trials(config_file):
    assert head_trial_problems(prepare_and_validate(load(config_file))) == []


def test_file_mount_sources_are_in_repo(config_file):
    config = load(config_file)
    for remote, local in config["file_mounts"].items():
        if local == TOKEN_MOUNT:
            continue  # the user's own token, never in the repository
        path = (REPO / local).resolve()
        assert path.exists() and path.is_relative_to(REPO), (remote, local)
    for name in config.get("rsync_filter", []):
        assert (REPO / name).exists(), name


def test_aws_config_security_and_spot():
    config = load(REPO / "cluster.yaml")
    assert config["provider"]["type"] == "aws"
    assert aws_problems(config, (REPO / "cluster.yaml").read_text()) == []


# ------------------------------------------- broken configs must be rejected


def first_worker_type(config: dict) -> str:
    return next(n for n in config["available_node_types"] if n != config["head_node_type"])


def test_rejects_unknown_top_level_key(config_file):
    config = load(config_file)
    config["max_wrokers"] = 3
    with pytest.raises(jsonschema.ValidationError) as info:
        prepare_and_validate(config)
    assert "max_wrokers" in str(info.value)


def test_rejects_wrong_type(config_file):
    config = load(config_file)
    config["idle_timeout_minutes"] = "ten"
    with pytest.raises(jsonschema.ValidationError) as info:
        prepare_and_validate(config)
    assert "idle_timeout_minutes" in str(info.value)


def test_rejects_unknown_docker_key(config_file):
    config = load(config_file)
    config["docker"]["imagee"] = config["docker"]["image"]
    with pytest.raises(jsonschema.ValidationError) as info:
        prepare_and_validate(config)
    assert "imagee" in str(info.value)


def test_rejects_undefined_head_node_type():
    config = load(REPO / "cluster.yaml")
    config["head_node_type"] = "no-such-type"
    with pytest.raises(ValueError) as info:
        prepare_and_validate(config)
    assert "head_node_type" in str(info.value)


def test_rejects_wrong_type_inside_node_type():
    config = load(REPO / "cluster.yaml")
    worker = first_worker_type(config)
    config["available_node_types"][worker]["max_workers"] = "8"
    with pytest.raises(jsonschema.ValidationError) as info:
        prepare_and_validate(config)
    assert "max_workers" in str(info.value) and worker in str(info.value)


def test_rejects_fractional_resources():
    config = load(REPO / "cluster.yaml")
    config["available_node_types"][config["head_node_type"]]["resources"]["CPU"] = 0.5
    with pytest.raises(jsonschema.ValidationError) as info:
        prepare_and_validate(config)
    assert "CPU" in str(info.value)


def test_onprem_rejects_node_types():
    config = load(REPO / "cluster-onprem.yaml")
    config["available_node_types"] = {"x": {"node_config": {}, "resources": {}}}
    with pytest.raises(Exception) as info:
        prepare_and_validate(config)
    assert "available_node_types" in str(info.value)


# -------------------------------- the promise checks catch broken configs


def test_promise_checks_catch_violations():
    base = load(REPO / "cluster.yaml")
    text = (REPO / "cluster.yaml").read_text()

    broken = copy.deepcopy(base)
    broken["head_start_ray_commands"] = [c.replace("127.0.0.1", "0.0.0.0") for c in broken["head_start_ray_commands"]]
    assert dashboard_problems(broken)

    broken = copy.deepcopy(base)
    broken["docker"]["run_options"].append("-p 8265:8265")
    assert dashboard_problems(broken)

    broken = copy.deepcopy(base)
    broken["docker"]["run_options"].remove("--env RAY_AUTH_MODE=token")
    broken["worker_start_ray_commands"] = [
        c.replace("RAY_AUTH_MODE=token ", "") for c in broken["worker_start_ray_commands"]
    ]
    assert token_auth_problems(broken, text)
    assert token_auth_problems(base, text + "\n# RAY_AUTH_MODE=disabled\n")

    broken = copy.deepcopy(base)
    del broken["file_mounts"]["/home/ray/.ray/auth_token"]
    assert token_auth_problems(broken, text)

    fake_key = "AKIA" + "ABCDEFGHIJKLMNOP"
    fake_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + "EXAMPLEKEY"
    assert secret_problems(text + f"\n# {fake_key}\n")
    assert secret_problems(text + f"\n# {fake_secret}\n")
    assert secret_problems(text + "\naws_secret_access_key: x\n")

    broken = copy.deepcopy(base)
    broken["docker"]["image"] = "rayproject/ray:latest-gpu"
    assert image_problems(broken)
    broken["docker"]["image"] = "rayproject/ray:2.59.0-py311-gpu"
    assert image_problems(broken)

    broken = copy.deepcopy(base)
    broken["worker_setup_commands"] = ['pip install -e "/home/ray/ran[jax]"']
    assert install_problems(broken)
    broken["worker_setup_commands"] = ['pip install -e "/home/ray/ran[nope]"']
    assert install_problems(broken)

    assert storage_problems(text + "\n    - --env RAN_STORAGE=s3://other\n")

    broken = copy.deepcopy(base)
    broken["available_node_types"][broken["head_node_type"]]["resources"] = {}
    assert head_trial_problems(broken)

    broken = copy.deepcopy(base)
    worker = first_worker_type(broken)
    del broken["available_node_types"][worker]["node_config"]["InstanceMarketOptions"]
    broken["provider"]["security_group"]["IpPermissions"] = [{"FromPort": 8265}]
    assert len(aws_problems(broken, text)) == 2
