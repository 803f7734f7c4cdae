"""emoscan: facial expression recognition on FER-2013, from data to a served model."""

__version__ = "0.1.0"

from emoscan.labels import CLASSES  # FER-2013's label order (the ferplus model carries its own)


def __getattr__(name: str):
    # the Python API loads ONNX Runtime and OpenCV: only on first use, so that pipeline stages
    # importing CLASSES stay light
    if name == "EmotionRecognizer":
        from emoscan.api import EmotionRecognizer

        return EmotionRecognizer
    raise AttributeError(f"module 'emoscan' has no attribute {name!r}")


__all__ = ["CLASSES", "EmotionRecognizer", "__version__"]
