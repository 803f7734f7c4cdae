"""What the best published FER-2013 single networks would cost to serve here, next to the shipped
model: each is rebuilt in Keras from its authors' code (random weights: the cost does not depend on
them), wrapped so that the graph takes the served 48x48 face and does the authors' test-time crops
inside, exported and quantized to int8 as the export stage does, then timed at batch 1 through the
serving classifier.

    python benchmarks/bench_published.py [--threads 2]

- VGGNet (Khaireddin & Chen 2021, arXiv:2105.03588, github.com/usef-kh/fer): 73.28% on the
  PrivateTest split. Four stages of two 3x3 convs (64/128/256/512, BatchNorm), 2x2 max-pools,
  then Dense 4096, 4096; trained and tested on 40x40 crops, ten-crop averaging at test time.
- ResNet18 (github.com/LetheSec/Fer2013-Facial-Emotion-Recognition-Pytorch): 73.70% on
  PrivateTest. The CIFAR ResNet18 (3x3 stem at full resolution, 64-512 filters); 40x40 crops,
  ten-crop averaging at test time.

Each is timed with its published protocol (ten crops: the four corners and the centre, and their
mirror images) and with the centre crop alone, the cheapest way to serve it (which the published
accuracy does not cover). The sizes are the int8 ONNX files; the size and latency budget is 20 MB and 1.5 ms.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

import keras
from keras import layers, ops

from emoscan.settings import load_params
from emoscan.data.split import load_split
from emoscan.inference.classifier import EmotionClassifier
from emoscan.inference.preprocess import normalize
from emoscan.training.nets.architectures import emoscan_vgg
from _served import lowest_medians, served_int8  # benchmarks/ is on sys.path when this runs

# Parity-check and calibration images: enough for timing. ONNX Runtime's calibrator keeps every
# activation of every image in memory, and ten crops of a 40x40x64 network for the export stage's
# 1,024 calibration (or even its 256 parity) images do not fit in 24 GiB.
EXPORT_IMAGES = 64

SHIPPED_BUNDLE = Path("src/emoscan/models/emoscan-fer2013")
CROP = 40


class Crops(layers.Layer):
    """(B, 48, 48, 1) -> (V*B, crop, crop, 1): the centre crop (V=1) or the ten crops (V=10),
    stacked view-major on the batch axis so that the backbone runs them as one batch."""

    def __init__(self, crop: int, ten: bool, **kwargs) -> None:
        super().__init__(**kwargs)
        self.crop, self.ten = crop, ten

    def call(self, x):
        size, c = x.shape[1], self.crop
        starts = [((size - c) // 2, (size - c) // 2)]
        if self.ten:
            starts += [(0, 0), (0, size - c), (size - c, 0), (size - c, size - c)]
        views = [x[:, r:r + c, q:q + c, :] for r, q in starts]
        if self.ten:
            views += [ops.flip(v, axis=2) for v in views]
        return ops.concatenate(views, axis=0)


class ViewMean(layers.Layer):
    """(V*B, classes) -> (B, classes): the mean over the V views of each face."""

    def __init__(self, views: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.views = views

    def call(self, x):
        return ops.mean(ops.reshape(x, (self.views, -1, x.shape[-1])), axis=0)


def vggnet_khaireddin(crop: int = CROP, classes: int = 7) -> keras.Model:
    """Khaireddin & Chen's VGGNet on (crop, crop, 1) inputs."""
    inputs = keras.Input((crop, crop, 1))
    x = inputs
    for filters in (64, 128, 256, 512):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same")(x)
            x = layers.Activation("relu")(layers.BatchNormalization()(x))
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    for _ in range(2):
        x = layers.Dropout(0.2)(layers.Dense(4096, activation="relu")(x))
    return keras.Model(inputs, layers.Dense(classes, activation="softmax")(x), name="vggnet_khaireddin")


def _basic_block(x, filters: int, stride: int):
    shortcut = x
    y = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
    y = layers.Activation("relu")(layers.BatchNormalization()(y))
    y = layers.BatchNormalization()(layers.Conv2D(filters, 3, padding="same", use_bias=False)(y))
    if stride != 1 or x.shape[-1] != filters:
        shortcut = layers.BatchNormalization()(layers.Conv2D(filters, 1, strides=stride, use_bias=False)(x))
    return layers.Activation("relu")(layers.Add()([y, shortcut]))


def resnet18_cifar(crop: int = CROP, classes: int = 7) -> keras.Model:
    """The CIFAR-style ResNet18 of the 73.70% FER-2013 result, on (crop, crop, 1) inputs."""
    inputs = keras.Input((crop, crop, 1))
    x = layers.Conv2D(64, 3, padding="same", use_bias=False)(inputs)
    x = layers.Activation("relu")(layers.BatchNormalization()(x))
    for stage, filters in enumerate((64, 128, 256, 512)):
        x = _basic_block(x, filters, 1 if stage == 0 else 2)
        x = _basic_block(x, filters, 1)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(classes, activation="softmax")(x), name="resnet18_cifar")


def served_48(backbone: keras.Model, ten: bool, size: int = 48) -> keras.Model:
    """The backbone behind the served 48x48 input, with its crops and their average in the graph."""
    inputs = keras.Input((size, size, 1), name="image")
    probs = backbone(Crops(backbone.input_shape[1], ten)(inputs))
    return keras.Model(inputs, ViewMean(10 if ten else 1, name="probabilities")(probs))


def multiply_adds(model: keras.Model) -> int:
    """Multiply-adds of one forward pass of one input through the convolutions and Dense layers."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Conv2D):
            total += layer.output.shape[1] * layer.output.shape[2] * math.prod(layer.kernel.shape)
        elif isinstance(layer, layers.Dense):
            total += math.prod(layer.kernel.shape)
        elif isinstance(layer, keras.Model):
            total += multiply_adds(layer)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    params = load_params(args.params)
    x, _ = load_split(params["split"]["output_dir"], "val")
    rows, predicts = {}, {}
    shipped_name = "emoscan (shipped), one view"
    network = keras.saving.load_model(SHIPPED_BUNDLE / "model.keras", compile=False)
    predicts[shipped_name] = EmotionClassifier(SHIPPED_BUNDLE, threads=args.threads, tta="none").predict
    rows[shipped_name] = (f"{network.count_params():,}", multiply_adds(network),
                          (SHIPPED_BUNDLE / "model.onnx").stat().st_size / 1e6)
    with tempfile.TemporaryDirectory() as tmp:
        for build in (vggnet_khaireddin, resnet18_cifar):
            backbone = build()
            for ten in (False, True):
                name = f"{backbone.name}, {'ten crops (published)' if ten else 'centre crop'}"
                bundle = served_int8([served_48(backbone, ten)], params, Path(tmp) / f"{backbone.name}_{ten}",
                                     image_limit=EXPORT_IMAGES)
                rows[name] = (f"{backbone.count_params():,}", (10 if ten else 1) * multiply_adds(backbone),
                              (bundle / "model.onnx").stat().st_size / 1e6)
                predicts[name] = EmotionClassifier(bundle, threads=args.threads, tta="none").predict
        times = lowest_medians(predicts, normalize(x[:256]), repeats=50)
    print(f"int8, batch 1, {args.threads} threads (lowest of five round-robin medians)")
    print("| network, test-time views | parameters | M multiply-adds per face | int8 MB | ms/face |\n"
          "|---|---:|---:|---:|---:|")
    for name, (count, macs, mb) in rows.items():
        print(f"| {name} | {count} | {macs / 1e6:,.0f} | {mb:.1f} | {times[name]:.2f} |")
    print(f"(emoscan_vgg per face: width 1.0 {multiply_adds(emoscan_vgg()) / 1e6:.0f}M, "
          f"width 2.0 {multiply_adds(emoscan_vgg(width=2.0)) / 1e6:.0f}M multiply-adds)")


if __name__ == "__main__":
    main()
