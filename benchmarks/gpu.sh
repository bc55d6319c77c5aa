#!/usr/bin/env bash
# The GPU throughput check, run as is on a machine with one H100/H200, JAX, numpy, pandas and
# pyarrow (no TensorFlow, Keras, Ray or Optuna: Keras comes from the wheels carried in .whl/).
#   bash benchmarks/gpu.sh            # writes $OUT/gpu_*.json (OUT defaults to ./gpu_out)
#   TINY=1 bash benchmarks/gpu.sh     # the same path in seconds, for a CPU check of the script
# Records the card's name in every JSON file. Target (issue 9): Attention-92, paper width, batch 128,
# mixed_bfloat16, end to end with augmentation and evaluation: >= 12,000 img/s.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu_out}"
mkdir -p "$OUT"
if ! python3 -c "import keras" 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
export JAX_COMPILATION_CACHE_DIR="${JAX_COMPILATION_CACHE_DIR:-/tmp/ran_jax_cache}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu_card.csv" 2>/dev/null || true

if [ -n "${TINY:-}" ]; then
    big=(--model attention56 --width 0.0625 --batch-size 16 --precision float32)
    trial=(--num-train 256 --epochs 2 --repeat 1)
    steps=(--steps 8)
else
    big=(--model attention92 --width 1.0 --batch-size 128 --precision mixed_bfloat16)
    trial=(--num-train 50000 --epochs 3 --repeat 1)  # CIFAR-10's size: 50k training, 10k test images
    steps=(--steps 300)
fi
# (a) end to end, as a trial runs: augmentation in the step, evaluation every epoch
python3 benchmarks/throughput.py trial "${big[@]}" "${trial[@]}" --out "$OUT/gpu_trial.json"
# (b) steady-state steps: automatic steps_per_execution, and 1 for the dispatch cost it hides
python3 benchmarks/throughput.py step "${big[@]}" "${steps[@]}" --steps-per-execution 0 1 --out "$OUT/gpu_step.json"
# the framework's fixed per-step cost on this machine's CPU (tiny model, width 1/16, batch 8)
JAX_PLATFORMS=cpu python3 benchmarks/throughput.py step --width 0.0625 --batch-size 8 --steps 100 \
    --steps-per-execution 1 --out "$OUT/gpu_host_overhead.json"
ls -l "$OUT"
