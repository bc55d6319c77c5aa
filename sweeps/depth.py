"""Depth (paper, Table 6 and Table 3's ARL column): Attention-56 to -236 on CIFAR-10 and CIFAR-100.

python sweeps/depth.py                             # smoke: two depths x 3 seeds on offline digits
python sweeps/depth.py --preset paper --seeds 3 --address auto --storage s3://BUCKET/ran
"""

import sys

from ran_core.sweep import SMOKE, Study, run_study

PRESETS = {
    "paper": Study(
        "depth",
        grid={
            "model": ["attention56", "attention92", "attention128", "attention164", "attention236"],
            "dataset": ["cifar10", "cifar100"],
        },
    ),
    "smoke": Study("depth", grid={"model": ["attention56", "attention92"]}, fixed=SMOKE, seeds=(0, 1, 2)),
}

if __name__ == "__main__":
    sys.exit(run_study(PRESETS))
