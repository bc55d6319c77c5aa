"""Free search: Optuna TPE over the whole space (depth, attention type, learning mode, learning
rate, weight decay, batch size), with ASHA stopping weak trials at its rungs (each trial waits
there; the best fifth by training loss go on). Trials ASHA stops are recorded as pruned, in Optuna
(results/search/optuna.db) and in trials.parquet.

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
        fixed={"dataset": "cifar10"},
    ),
    "smoke": Study("search", search=SMOKE_SPACE, fixed={k: v for k, v in SMOKE.items() if k not in SMOKE_SPACE}),
}

if __name__ == "__main__":
    sys.exit(run_study(PRESETS))
