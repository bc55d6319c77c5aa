"""Free search: Optuna TPE over the whole space (depth, attention type, learning mode, learning
rate, weight decay, batch size), with ASHA stopping weak trials at its rungs (each trial waits
there; the best fifth by training loss go on). Trials ASHA stops are recorded as pruned, in Optuna
(results/search/optuna.db) and in trials.parquet.

Selection never sees the test set: every trial holds out the same stratified share of the
training images (clean labels, split seed 0), TPE minimises the error on it, and the report names
the best configuration by it; the test error, recorded every epoch, is reported once, for that one.

    python sweeps/search.py                            # smoke: 16 small trials on offline digits
    python sweeps/search.py --preset paper --num-samples 128 --address auto --storage s3://BUCKET/ran
"""

import sys

from ran_core.sweep import SMOKE, Study, run_study

SMOKE_SPACE = {
    "model": ["attention56", "resnet56"],
    "attention_type": ["mixed", "channel", "spatial"],
    "learning_mode": ["arl", "nal"],
    "learning_rate": (0.01, 0.3),
    "weight_decay": (1e-5, 1e-3),
}

PRESETS = {
    "paper": Study(
        "search",
        search={
            "model": ["attention56", "attention92", "attention128", "attention164", "resnet164"],
            "attention_type": ["mixed", "channel", "spatial"],
            "learning_mode": ["arl", "nal"],
            "learning_rate": (0.02, 0.4),
            "weight_decay": (1e-5, 1e-3),
            "batch_size": [64, 128, 256],
        },
        fixed={"dataset": "cifar10", "validation_share": 0.1},  # 5,000 of CIFAR-10's 50,000 training images
    ),
    # A fifth of digits' 1,347 training images (269) to select on: a tenth would leave 135, one image 0.7 points.
    "smoke": Study(
        "search",
        search=SMOKE_SPACE,
        fixed={**{k: v for k, v in SMOKE.items() if k not in SMOKE_SPACE}, "validation_share": 0.2},
    ),
}

if __name__ == "__main__":
    sys.exit(run_study(PRESETS))
