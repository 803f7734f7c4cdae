#!/usr/bin/env bash
# Pack what a GPU machine without TensorFlow or internet access (JAX installed) needs to run
# `emoscan.training.fit.accelerated`: the split arrays, xz-compressed; the warm starts that the runs
# name in init_from, as float16 arrays (tools/gpu/init_weights.py: half the bytes to copy); and the
# wheels of Keras and pydantic for the machine's Python.
#   tools/gpu/prepare.sh            # after `dvc repro dvc.yaml:split`; writes .gpu/ and .whl/ (git-ignored)
#   MODEL=ferplus tools/gpu/prepare.sh               # FER+: after `dvc repro split@ferplus`
# Copy the repository with .gpu/ and .whl/ to the machine and run `bash tools/gpu/train.sh` there.
set -euo pipefail
cd "$(dirname "$0")/../.."
DEVICE_PYTHON=${DEVICE_PYTHON:-3.12}
PARAMS=${PARAMS:-params.yaml}; MODEL=${MODEL:-fer2013}
DATA_DIR=$(.venv/bin/python -c "import sys; from emoscan.settings import load_params; print(load_params(sys.argv[1], model=sys.argv[2])['accelerated']['data_dir'])" "$PARAMS" "$MODEL")
mkdir -p .gpu .whl
# re-saved uncompressed first: xz packs raw pixels far better than the split stage's zip-compressed npz
for split in train val; do
    .venv/bin/python -c "import sys, numpy as np; d = np.load(sys.argv[1]); np.savez(sys.stdout.buffer, **d)" \
        "$DATA_DIR/$split.npz" | xz -T2 -9 > ".gpu/$split.npz.xz"
done
# warm starts (init_from) of params.yaml's accelerated runs, as float16 arrays: .gpu/init/*.npz
.venv/bin/python tools/gpu/init_weights.py pack --params "$PARAMS"
# Keras and what it needs, and pydantic (emoscan.settings reads the params file with it), at this
# environment's versions; a GPU image has numpy, pyyaml and typing-extensions
.venv/bin/python -m pip download --quiet --dest .whl --only-binary :all: --no-deps \
    --python-version "$DEVICE_PYTHON" --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 \
    $(.venv/bin/python -c "import importlib.metadata as m; print(' '.join(f'{n}=={m.version(n)}' for n in
      ('keras', 'namex', 'optree', 'pydantic', 'pydantic-core', 'annotated-types', 'typing-inspection')))")
du -sh .gpu .whl
