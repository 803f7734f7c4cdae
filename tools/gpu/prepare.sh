#!/usr/bin/env bash
# Pack what a GPU machine (PyTorch and JAX, no TensorFlow, no network) needs to run
# `emoscan.model.accelerated`: the split arrays, xz-compressed, the runs' warm starts, and the Keras 3
# wheels for its Python.
#   tools/gpu/prepare.sh            # after `dvc repro split`; writes .gpu/ and .whl/ (both git-ignored)
# Then run `bash tools/gpu/on_device.sh [seconds] [accelerated args...]` there, carrying .gpu and .whl
# (about 49 MB of arrays: a small GPU job may carry 64 MiB with the working tree, so hide the committed
# networks for the call: tools/gpu/device_copy.sh hide, then restore).
set -euo pipefail
cd "$(dirname "$0")/../.."
DEVICE_PYTHON=${DEVICE_PYTHON:-3.12}
KERAS_VERSION=$(.venv/bin/python -c "import keras; print(keras.__version__)")
mkdir -p .gpu .whl
# re-saved uncompressed first: xz packs raw pixels far better than the split stage's zip-compressed npz
for split in train val; do
    .venv/bin/python -c "import sys, numpy as np; d = np.load(sys.argv[1]); np.savez(sys.stdout.buffer, **d)" \
        "data/processed/$split.npz" | xz -T2 -9 > ".gpu/$split.npz.xz"
done
# warm starts (init_from) of params.yaml's accelerated runs, as float16 arrays: .gpu/init/*.npz
.venv/bin/python tools/gpu/init_weights.py pack
.venv/bin/python -m pip download --quiet --dest .whl --only-binary :all: --no-deps \
    --python-version "$DEVICE_PYTHON" --platform manylinux_2_28_x86_64 \
    "keras==$KERAS_VERSION" namex optree
du -sh .gpu .whl
