"""Python API: find every face in an image or video and classify its expression.

    >>> import emoscan
    >>> recognizer = emoscan.EmotionRecognizer()           # the shipped fer2013 model
    >>> faces = recognizer.detect_emotions("photo.jpg")    # a path, bytes, a PIL image or an array
    >>> faces[0].emotion, faces[0].confidence, faces[0].box
    >>> recognizer.top_emotion("photo.jpg")                # ("happy", 0.93), or None without a face
    >>> recognizer.analyze_video("clip.mp4", frame_rate=2).summary()

The same detector, classifier, model choice and settings as the BentoML service and the CLI
(`emoscan.inference.analyzer.FaceAnalyzer` does the work).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from emoscan.inference.analyzer import FaceAnalyzer, VideoAnalysis
from emoscan.inference.bundle import ModelSource, model_at, resolve_model
from emoscan.inference.classifier import EmotionClassifier
from emoscan.inference.decode import ImageDecodeError, decode_upload
from emoscan.inference.preprocess import crop_face, normalize, to_gray
from emoscan.inference.types import Box, Face
from emoscan.settings import InferenceSettings, ServiceSettings, load_settings, with_overrides

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

ImageInput = Union[str, os.PathLike, bytes, np.ndarray, "PILImage"]


class EmotionRecognizer:
    """Face detection + expression classification for Python callers.

    `model`: a shipped model's name ("fer2013", "ferplus": eight emotions with contempt,
    "fer2013-fast": about a fifth of fer2013's time per face), a bundle folder or `.onnx` file, or
    "champion:NAME" (a model imported into the BentoML store); None: `MODEL_PATH`, else the
    shipped "fer2013". `settings`: overrides of the inference settings, by name (e.g.
    `min_face_size=40`, `detector="yunet_n"`); an unknown name or a bad value raises ValueError.
    """

    def __init__(self, model: str | os.PathLike | None = None, **settings: Any) -> None:
        loaded = load_settings()
        self.settings: InferenceSettings = (with_overrides(loaded.inference, settings, "settings") if settings
                                            else loaded.inference)
        self.limits: ServiceSettings = loaded.service
        self.source: ModelSource = resolve_model() if model is None else model_at(model, "model")
        classifier = EmotionClassifier(self.source.path, self.settings.classifier_threads)
        #: the detector + classifier behind every method, for frame-level work (live mode, callbacks)
        self.analyzer = FaceAnalyzer(classifier, self.settings)

    @property
    def labels(self) -> tuple[str, ...]:
        """Class names, in the order of every probability vector."""
        return self.analyzer.labels

    @property
    def tta(self) -> str:
        """Test-time augmentation the classifier runs ("none" or "flip")."""
        return self.analyzer.classifier.tta

    def detect_emotions(self, image: ImageInput, boxes: Sequence[Sequence[int]] | None = None) -> list[Face]:
        """Every face in `image`, largest first, each with its box, emotion, confidence and the
        probabilities of the model's classes. `image`: a file path, encoded bytes (JPEG, PNG, WebP, BMP), a PIL
        image, or a uint8 array (BGR, BGRA or grayscale, as OpenCV reads them). `boxes`: face
        rectangles (x, y, width, height) to classify instead of running the face detector."""
        pixels = self.load_image(image)
        if boxes is None:
            return self.analyzer.analyze_image(pixels)
        face_boxes = [self._box(b, pixels.shape) for b in boxes]
        probs = self.analyzer.classify_boxes(pixels, face_boxes)
        return [self.analyzer.make_face(box, p) for box, p in zip(face_boxes, probs)]

    def top_emotion(self, image: ImageInput) -> tuple[str, float] | None:
        """(emotion, confidence) of the largest face, or None when there is no face."""
        faces = self.detect_emotions(image)
        return (faces[0].emotion, faces[0].confidence) if faces else None

    def classify_crops(self, crops: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """(N, classes) probabilities of face crops that need no detection (e.g. FER-2013's 48x48 images).
        `crops`: one (H, W) array, an (N, H, W) or (N, H, W, C) batch, or a list of arrays; uint8,
        grayscale, BGR or BGRA, any size: each is cut as a detected face whose box is the whole crop
        (`preprocess.crop_face`: square, resized to 48x48)."""
        if isinstance(crops, np.ndarray) and crops.ndim == 2:
            crops = [crops]
        crops = list(crops)
        if not crops:
            return np.zeros((0, len(self.labels)), np.float32)
        faces = []
        for i, crop in enumerate(crops):
            gray = to_gray(self._check_array(np.asarray(crop), f"crop {i}"))
            faces.append(crop_face(gray, Box(0, 0, gray.shape[1], gray.shape[0])))
        return self.analyzer.classifier.predict(normalize(np.stack(faces)))

    def analyze_video(self, path: str | os.PathLike, frame_rate: float = 1.0,
                      max_frames: int | None = None) -> VideoAnalysis:
        """Faces in `frame_rate` frames per second of a video file (or stream URL); `.summary()`
        and `.to_dict()` give what the service's /detect-video answers. Raises VideoDecodeError
        (a ValueError) for a file with no decodable frames."""
        if "://" not in str(path) and not Path(path).is_file():
            raise FileNotFoundError(f"{path}: no such file")
        return self.analyzer.analyze_video(str(path), frame_rate, max_frames)

    def load_image(self, image: ImageInput) -> np.ndarray:
        """Any accepted image input -> uint8 BGR (or grayscale) array; ImageDecodeError (a
        ValueError) for bytes or files that are not a complete JPEG/PNG/WebP/BMP image."""
        if isinstance(image, (str, os.PathLike)):
            path = Path(image)
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no such file")
            try:
                return decode_upload(path.read_bytes(), self.limits.max_image_pixels)
            except ImageDecodeError as exc:
                raise ImageDecodeError(f"{path}: {exc}", exc.status) from None
        if isinstance(image, (bytes, bytearray, memoryview)):
            return decode_upload(bytes(image), self.limits.max_image_pixels)
        if isinstance(image, np.ndarray):
            return self._check_array(image, "image")
        if hasattr(image, "convert") and hasattr(image, "size"):  # PIL image
            return np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
        raise TypeError(f"image: expected a path, bytes, a PIL image or a numpy array, got {type(image).__name__}")

    @staticmethod
    def _check_array(array: np.ndarray, what: str) -> np.ndarray:
        if array.dtype != np.uint8:
            raise ValueError(f"{what}: expected a uint8 array, got {array.dtype}")
        if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (1, 3, 4))) or min(array.shape[:2]) == 0:
            raise ValueError(f"{what}: expected an (H, W), (H, W, 1), (H, W, 3) BGR or (H, W, 4) BGRA "
                             f"array, got shape {array.shape}")
        return np.ascontiguousarray(array)

    @staticmethod
    def _box(box: Sequence[int], shape: tuple[int, ...]) -> Box:
        if len(box) != 4 or any(int(v) != v for v in box):
            raise ValueError(f"box {tuple(box)}: expected four integers (x, y, width, height)")
        x, y, w, h = (int(v) for v in box)
        if w <= 0 or h <= 0 or x >= shape[1] or y >= shape[0] or x + w <= 0 or y + h <= 0:
            raise ValueError(f"box {(x, y, w, h)}: empty or outside the {shape[1]}x{shape[0]} image")
        x0, y0 = max(0, x), max(0, y)  # clipped to the image, as the detector's boxes are
        return Box(x0, y0, min(shape[1], x + w) - x0, min(shape[0], y + h) - y0)
