"""Lazy package exports: a package names its public API without importing it (or its backend)."""

import importlib


def lazy_exports(package, exports):
    """A module `__getattr__` that imports `exports[name]` (a module path) on first use of `name`."""

    def __getattr__(name):
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
