"""emoscan: facial expression recognition on FER-2013, from data to a served model."""

__version__ = "0.1.0"

#: Label order used by every emoscan model, array and API response.
CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def __getattr__(name: str):
    # the Python API loads ONNX Runtime and OpenCV: only on first use, so that pipeline stages
    # importing CLASSES stay light
    if name == "EmotionRecognizer":
        from emoscan.api import EmotionRecognizer

        return EmotionRecognizer
    raise AttributeError(f"module 'emoscan' has no attribute {name!r}")


__all__ = ["CLASSES", "EmotionRecognizer", "__version__"]
