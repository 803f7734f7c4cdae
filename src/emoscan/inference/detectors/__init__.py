"""Face detectors behind one interface (`base.FaceDetector`): one module per backend, chosen by
name with `make_detector` (the `inference.detector` setting). A new detector is one new module that
subclasses `base.FaceDetector` and one line in `BACKENDS`."""

from __future__ import annotations

from emoscan.inference.detectors.base import FaceDetector, eye_line_roll

#: detector name -> "module:class", imported on first use (a backend's runtime loads only when chosen)
BACKENDS = {
    "yunet_s": "emoscan.inference.detectors.yunet_onnx:YuNetS",
    "yunet_n": "emoscan.inference.detectors.yunet_onnx:YuNetN",
    "yuface": "emoscan.inference.detectors.yuface:YuFace",
}


def make_detector(name: str = "yunet_s", **options) -> FaceDetector:
    """The detector called `name` (a key of BACKENDS), built with `options` (score_threshold,
    min_face_size, max_side, threads, max_faces, nms_iou)."""
    if name not in BACKENDS:
        raise ValueError(f"face detector {name!r}: expected one of {sorted(BACKENDS)}")
    module_name, class_name = BACKENDS[name].split(":")
    import importlib

    return getattr(importlib.import_module(module_name), class_name)(**options)


__all__ = ["BACKENDS", "FaceDetector", "eye_line_roll", "make_detector"]
