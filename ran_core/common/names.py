"""Model and dataset names, for the registry, the paper's tables, results and figures.

The one parser of model names: family and depth.

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


# --- datasets ---------------------------------------------------------------------------------

DATASETS = ("cifar10", "cifar100", "digits", "synthetic")
# Digits are 8x8; each pixel becomes a DIGITS_UPSCALE x DIGITS_UPSCALE block. 16x16 costs a quarter of
# 32x32 per image and still leaves the default soft masks (3/2/1 poolings) a 2x2 map in every stage.
DIGITS_UPSCALE = 2
PAPER_DATASET_NAMES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}
IMAGE_SIZES = {"cifar10": 32, "cifar100": 32, "digits": 8 * DIGITS_UPSCALE, "synthetic": 32}  # square, pixels
# Training images and classes of each dataset as loaded by default (synthetic: load_dataset's defaults),
# for planning a study without loading its data (tests/test_data.py holds them to the loaders).
TRAIN_IMAGES = {"cifar10": 50_000, "cifar100": 50_000, "digits": 1347, "synthetic": 1024}
NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "digits": 10, "synthetic": 10}


def pretty_dataset(name) -> str:
    """'cifar10' -> 'CIFAR-10'; a smoke dataset with its input size: 'digits' -> 'digits 16x16'."""
    name = str(name)
    if name in PAPER_DATASET_NAMES:
        return PAPER_DATASET_NAMES[name]
    size = IMAGE_SIZES.get(name)
    return f"{name} {size}x{size}" if size else name
