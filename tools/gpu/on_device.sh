#!/usr/bin/env bash
# Run `emoscan.model.accelerated` on a GPU machine (from the repository root, with .gpu/ and
# .whl/ from tools/gpu/prepare.sh) and bring every network it wrote back through $OUT as float16
# arrays (tools/gpu/init_weights.py), in one tar split into networks.tar.part-* of 15 MiB at most:
# a small GPU job may return 8 files, 16 MiB each, 64 MiB in all, and one width-2.0 .keras file is 21 MB.
#   bash tools/gpu/on_device.sh 520                       # every member, then students, 520 s at most
#   bash tools/gpu/on_device.sh 300 --student kd_a        # one run of params.yaml's accelerated section
# Here: cat networks.tar.part-* | tar x -C DIR && python tools/gpu/init_weights.py unpack --dir DIR --to DIR
set -u
limit=${1:-520}; shift || true
started=$(date +%s)
OUT=${OUT:-$PWD/gpu_out}; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD/src KERAS_BACKEND=jax PYTHONUNBUFFERED=1
EMOSCAN_DEVICE="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"; export EMOSCAN_DEVICE
mkdir -p data/processed
for split in train val; do xz -dc ".gpu/$split.npz.xz" > "data/processed/$split.npz" & done; wait
# the runs' init_from .keras files, from tools/gpu/prepare.sh's float16 arrays (the tracked ones stay here)
[ -d .gpu/init ] && { python3 tools/gpu/init_weights.py unpack || exit 1; }
echo "setup $(( $(date +%s) - started )) s on $EMOSCAN_DEVICE"
(while sleep 20; do nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader; done) > "$OUT/gpu_util.log" 2>&1 &
timeout "$limit" python3 -m emoscan.model.accelerated "$@" > "$OUT/train.log" 2>&1
echo "accelerated exit $? after $(( $(date +%s) - started )) s"
output_dir=$(python3 -c "import yaml; print(yaml.safe_load(open('params.yaml'))['accelerated']['output_dir'])")
ls "$output_dir"/*.keras >/dev/null 2>&1 || { echo "no network in $output_dir"; exit 1; }
pack=/tmp/networks; mkdir -p $pack
python3 tools/gpu/init_weights.py pack --dir $pack --files "$output_dir"/*.keras || exit 1
cp "$output_dir"/*.json "$output_dir"/*_log.csv $pack/ 2>/dev/null
tar cf - -C $pack . | split -b 15M - "$OUT/networks.tar.part-"
ls -l "$OUT"
grep -E "per epoch|val accuracy|finished|Error" "$OUT/train.log" | tail -30
