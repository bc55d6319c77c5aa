"""Attention types (paper, Table 1): mixed, channel and spatial attention in Attention-56 on CIFAR-10.

python sweeps/attention_types.py                   # smoke: 3 types x 3 seeds on offline digits
python sweeps/attention_types.py --preset paper --seeds 3 --address auto --storage s3://BUCKET/ran
"""

import sys

from ran_core.sweep import SMOKE, Study, run_study

TYPES = ["mixed", "channel", "spatial"]

PRESETS = {
    "paper": Study(
        "attention_types", grid={"attention_type": TYPES}, fixed={"model": "attention56", "dataset": "cifar10"}
    ),
    "smoke": Study(
        "attention_types", grid={"attention_type": TYPES}, fixed={"model": "attention56", **SMOKE}, seeds=(0, 1, 2)
    ),
}

if __name__ == "__main__":
    sys.exit(run_study(PRESETS))
