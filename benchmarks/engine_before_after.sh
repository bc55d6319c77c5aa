#!/usr/bin/env bash
# A trial's fixed cost before and after the trial engine v2 (issue 9), side by side in one run on
# the same input: attention56, width 0.25, digits at 32x32 (the only size BASE takes), batch 32,
# 3 epochs, 2 identical trials per process, on TensorFlow and JAX.
#   bash benchmarks/engine_before_after.sh [BASE]    # BASE: the commit before the engine (ca7bd9d)
#   BACKENDS=jax bash benchmarks/engine_before_after.sh   # one backend
# before: BASE's train() (a fit() per epoch, no compile cache).
# after, cold: a new process with an empty JAX compilation cache.
# after, warm: a new process that finds the cache the cold one filled (a sweep worker on a node
#   that already ran the architecture). The second trial in each process reuses the compiled model.
# Prints one JSON line per process and a summary table; timings want a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python}"
base="${1:-ca7bd9d}"
work="$(mktemp -d)"
git worktree add --detach "$work/before" "$base" >/dev/null 2>&1
trap 'git worktree remove --force "$work/before"; rm -rf "$work"' EXIT
args=(trial --model attention56 --width 0.25 --dataset digits --image-size 32 --batch-size 32 --epochs 3 --repeat 2)

run() {  # backend side source cache
    KERAS_BACKEND="$1" JAX_COMPILATION_CACHE_DIR="$4" JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 \
        TF_CPP_MIN_LOG_LEVEL=3 PYTHONPATH="$3" "$PYTHON" benchmarks/throughput.py "${args[@]}" \
        --out "$work/$1_$2.json" > /dev/null 2>&1
    echo "$1 $2: $(cat "$work/$1_$2.json" | "$PYTHON" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["results"][0]["trials"]))')"
}
for backend in ${BACKENDS:-tensorflow jax}; do
    run "$backend" before "$work/before" ""
    run "$backend" after_cold "$PWD" "$work/cache_$backend"
    run "$backend" after_warm "$PWD" "$work/cache_$backend"
done
"$PYTHON" - "$work" <<'EOF'
import json, pathlib, sys
work = pathlib.Path(sys.argv[1])
print("| backend | run | steady epoch s | trial 1 fixed cost s | vs before | trial 2 fixed cost s | trial 2 first epoch / steady |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for backend in ("tensorflow", "jax"):
    if not (work / f"{backend}_before.json").exists():
        continue
    before = None
    for side in ("before", "after_cold", "after_warm"):
        first, second = json.loads((work / f"{backend}_{side}.json").read_text())["results"][0]["trials"]
        before = before or first["fixed_cost_s"]
        print(
            f"| {backend} | {side} | {first['steady_epoch_s']:.2f} | {first['fixed_cost_s']:.2f} "
            f"| {first['fixed_cost_s'] / before:.2f}x | {second['fixed_cost_s']:.2f} | {second['first_epoch_vs_steady']:.2f}x |"
        )
EOF
