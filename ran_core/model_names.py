"""The one parser of model names: family and depth, for the registry, the paper's tables and results.

Kept free of Keras so that analysis, plots and notebooks can read names without importing a backend.
Names are a family followed by a depth: `attention92`, `attention-92`, `resnet164`, and the paper's
`wrn28_10` (family `wrn`, depth 28, widening factor 10).
"""

import re

_NAME = re.compile(r"([a-z]+)-?(\d+)(?:_(\d+))?")
_PRETTY_FAMILY = {"attention": "Attention", "resnet": "ResNet", "wrn": "WRN"}


def is_attention(name):
    """True for names of the Attention-N family ('attention92', 'attention', ...)."""
    return str(name).lower().startswith("attention")


def split_model_name(name):
    """(family, depth) of a model name, e.g. ('attention', 92); (None, None) if it has no such form."""
    match = _NAME.fullmatch(str(name).lower()) if name is not None else None
    return (match.group(1), int(match.group(2))) if match else (None, None)


def pretty_model_name(name):
    """'attention92' -> 'Attention-92', 'resnet164' -> 'ResNet-164', 'wrn28_10' -> 'WRN-28-10'."""
    if name is None:
        return "?"
    match = _NAME.fullmatch(str(name).lower())
    if not match:
        return str(name)
    family, depth, factor = match.groups()
    return f"{_PRETTY_FAMILY.get(family, family)}-{depth}" + (f"-{factor}" if factor else "")
