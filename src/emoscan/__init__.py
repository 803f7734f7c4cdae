"""emoscan: facial expression recognition on FER-2013, from data to a served model."""

__version__ = "0.1.0"

#: Label order used by every emoscan model, array and API response.
CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
