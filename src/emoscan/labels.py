"""Class names. FER-2013's seven, in the order of the `fer2013` model's outputs and of the FER-2013
pipeline's arrays; other models carry their own in their bundle's labels.json (FER+: eight)."""

#: FER-2013's label order, used wherever a model or a split carries no classes of its own.
CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
