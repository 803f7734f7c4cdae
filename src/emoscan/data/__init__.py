"""Data half of the pipeline: fetch FER-2013, split it, validate it."""

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".pgm")
SPLITS = ("train", "test")
