"""The package's layers and their one import direction, read from the import graph of every module.

common -> model, data -> training -> results -> sweep, analysis: a module imports only from its
own layer and the layers allowed below it, at module level and inside functions alike. Light
layers import no heavy library at module level, and the analysis and the results store import
no Keras backend, Ray or Optuna at all (checked in a fresh interpreter).
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ran_core"

# layer -> the layers it may import (its own always allowed)
ALLOWED = {
    "common": set(),
    "model": {"common"},
    "data": {"common"},
    "training": {"common", "model", "data"},
    "results": {"common", "training"},  # the config columns are TrainConfig's fields
    "sweep": {"common", "model", "data", "training", "results", "analysis"},
    "analysis": {"common", "results"},
}
# layer -> libraries it must not import at module level
HEAVY = {"keras", "tensorflow", "jax", "ray", "optuna"}
FORBIDDEN_AT_TOP = {
    "common": HEAVY | {"pandas", "pyarrow", "matplotlib"},
    "model": {"ray", "optuna", "pandas"},
    "data": HEAVY | {"pandas"},
    "training": {"ray", "optuna", "pandas"},
    "results": HEAVY,
    "analysis": HEAVY,
}


def modules():
    return sorted(p for p in PACKAGE.rglob("*.py"))


def layer_of(path_or_name):
    if isinstance(path_or_name, Path):
        parts = path_or_name.relative_to(PACKAGE).parts
        return parts[0] if len(parts) > 1 else None  # None: a module of the package root
    return path_or_name.split(".")[1]


def imports(path):
    """(imported module, at module level?) for every import statement in `path`."""
    tree = ast.parse(path.read_text())
    top = set(map(id, tree.body))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "ran_core":  # `from ran_core import x`: x is the module
                found += [(f"ran_core.{alias.name}", id(node) in top) for alias in node.names]
            else:
                found.append((node.module, id(node) in top))
    return found


def test_every_module_is_in_a_known_layer():
    layers = {layer_of(p) for p in modules()} - {None}
    assert layers == set(ALLOWED), f"layers on disk {sorted(layers)} != declared {sorted(ALLOWED)}"
    assert len(modules()) > 30  # the scan sees the subpackages


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_imports_go_one_way(layer):
    wrong = []
    for path in modules():
        if layer_of(path) != layer:
            continue
        for name, _ in imports(path):
            if name.startswith("ran_core.") and name != "ran_core._lazy":
                target = layer_of(name)
                if target is None or (target != layer and target not in ALLOWED[layer]):
                    wrong.append(f"{path.relative_to(PACKAGE.parent)} imports {name}")
    assert not wrong, f"{layer} may import only {sorted(ALLOWED[layer])}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("layer", sorted(FORBIDDEN_AT_TOP))
def test_light_layers_import_no_heavy_library_at_module_level(layer):
    wrong = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in modules()
        if layer_of(path) == layer
        for name, at_top in imports(path)
        if at_top and name.split(".")[0] in FORBIDDEN_AT_TOP[layer]
    ]
    assert not wrong, "\n".join(wrong)


def test_the_scan_catches_a_wrong_import(tmp_path, monkeypatch):
    """A results module that imports the sweep is reported (the check above can fail)."""
    bad = tmp_path / "ran_core" / "results" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("from ran_core.sweep.recorder import trial_row\n")
    (tmp_path / "ran_core" / "__init__.py").write_text("")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", tmp_path / "ran_core")
    with pytest.raises(AssertionError, match="results/bad.py imports ran_core.sweep.recorder"):
        test_imports_go_one_way("results")


def test_analysis_and_results_load_no_backend_ray_or_optuna():
    """A notebook or `python -m ran_core.analysis` needs pandas and matplotlib, nothing that trains."""
    modules = "ran_core.analysis.report, ran_core.analysis.scorecard, ran_core.results.loading, ran_core.results.store"
    code = f"import sys, {modules}; print(sorted(set({sorted(HEAVY)}) & set(m.split('.')[0] for m in sys.modules)))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "[]", run.stdout + run.stderr[-2000:]
