#!/usr/bin/env bash
# Train with `emoscan.training.fit.accelerated` (Keras 3 on JAX) on a GPU machine, from the
# repository root. What a machine without TensorFlow or internet access lacks comes from
# tools/gpu/prepare.sh: Keras and pydantic wheels in .whl/, the split arrays and warm starts in
# .gpu/; a machine that ran `dvc repro dvc.yaml:split` and `pip install -e . keras jax[cuda12]`
# needs neither.
#   bash tools/gpu/train.sh 520                       # every member, then the students, 520 s at most
#   bash tools/gpu/train.sh 300 --student kd_a        # one run of params.yaml's accelerated section
#   MODEL=ferplus bash tools/gpu/train.sh 520         # runs on the FER+ data (eight classes, votes)
# The networks (<name>.keras, <name>_log.csv, <name>.json) are written to accelerated.output_dir
# (models/accelerated); the trainer's output and the GPU's utilisation to $LOG_DIR (default: the same).
set -u
limit=${1:-520}; shift || true
started=$(date +%s)
PARAMS=${PARAMS:-params.yaml}; MODEL=${MODEL:-fer2013}
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site:$PWD/src
fi
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:-$PWD/src}
# the accelerated.<key> the trainer reads for $MODEL
accelerated() { python3 -c "import sys; from emoscan.settings import load_params; print(load_params(sys.argv[1], model=sys.argv[2])['accelerated'][sys.argv[3]])" "$PARAMS" "$MODEL" "$1"; }
output_dir=$(accelerated output_dir) && data_dir=$(accelerated data_dir) || exit 1
LOG_DIR=${LOG_DIR:-$output_dir}; mkdir -p "$LOG_DIR"
EMOSCAN_DEVICE="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"; export EMOSCAN_DEVICE
if [ -f .gpu/train.npz.xz ]; then
    mkdir -p "$data_dir"
    for split in train val; do xz -dc ".gpu/$split.npz.xz" > "$data_dir/$split.npz" & done; wait
fi
# the runs' init_from .keras files, rebuilt from tools/gpu/prepare.sh's float16 arrays
[ -d .gpu/init ] && { python3 tools/gpu/init_weights.py unpack || exit 1; }
echo "setup $(( $(date +%s) - started )) s on $EMOSCAN_DEVICE"
(while sleep 20; do nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader; done) > "$LOG_DIR/gpu_util.log" 2>&1 &
timeout "$limit" python3 -m emoscan.training.fit.accelerated --params "$PARAMS" --model "$MODEL" "$@" > "$LOG_DIR/train.log" 2>&1
echo "accelerated exit $? after $(( $(date +%s) - started )) s"
ls -l "$output_dir"
grep -E "per epoch|val accuracy|finished|Error" "$LOG_DIR/train.log" | tail -30
