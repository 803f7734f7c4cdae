"""Split stage: decode every image, hash it, split train/validation, write manifest and arrays.

Outputs under `split.output_dir`:
- `manifest.csv`: one row per source image (path, split, label, hash, shape, decode status);
  images dropped as cross-split duplicates keep a row with `split=dropped`.
- `train.npz`, `val.npz`, `test.npz`: `x` (N, 48, 48) uint8 and `y` (N,) int64 in CLASSES order.
- `split_report.json`: counts, duplicates and undecodable files.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from emoscan.labels import CLASSES
from emoscan.settings import ParamsError, require
from emoscan.data import IMAGE_EXTENSIONS, SPLITS

MANIFEST_COLUMNS = ["path", "split", "label", "hash", "height", "width", "channels", "decodes", "error"]


@dataclass
class DecodedImage:
    """One image file read strictly: pixels when it decodes, otherwise the reason."""

    pixels: np.ndarray | None
    height: int | None
    width: int | None
    channels: int | None
    error: str = ""


def decode_image(path: Path) -> DecodedImage:
    """Decode an image fully (truncated files raise) and report its original shape and channels."""
    try:
        with Image.open(path) as img:
            img.load()
            channels = len(img.getbands())
            pixels = np.asarray(img.convert("L"), dtype=np.uint8)
            return DecodedImage(pixels, img.height, img.width, channels)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        # no shape for an undecodable file: it fails the `decodes` expectation alone
        return DecodedImage(None, None, None, None, f"{type(exc).__name__}: {exc}")


def pixel_hash(pixels: np.ndarray) -> str:
    """Content hash of decoded pixels: equal for identical images whatever their file encoding."""
    return hashlib.sha1(pixels.tobytes() + str(pixels.shape).encode()).hexdigest()


def check_split_params(cfg: dict) -> None:
    """Validate the split section of params.yaml."""
    require(cfg, "val_fraction", float, where="split", low=0.01, high=0.5)
    require(cfg, "seed", int, where="split")
    require(cfg, "subset_fraction", (int, float), where="split", low=0.0001, high=1.0)
    require(cfg, "cross_split_duplicates", str, where="split", choices=("keep", "drop"))
    require(cfg, "output_dir", str, where="split")


def scan(raw_dir: Path) -> pd.DataFrame:
    """List the images of the fetched layout as (path, split, label) rows."""
    rows = []
    for split in SPLITS:
        for label in CLASSES:
            folder = raw_dir / split / label
            if not folder.is_dir():
                raise FileNotFoundError(f"{folder}: missing; run the fetch stage first")
            rows += [{"path": str(p), "split": split, "label": label}
                     for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_EXTENSIONS]
    return pd.DataFrame(rows, columns=["path", "split", "label"])


def stratified_subset(frame: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """Keep `fraction` of each (split, label) group, at least one image per group."""
    if fraction >= 1.0:
        return frame
    parts = []
    for _, group in frame.groupby(["split", "label"], sort=True):
        n = max(1, int(round(len(group) * fraction)))
        parts.append(group.sample(n=n, random_state=seed))
    return pd.concat(parts).sort_index()


def assign_validation(train: pd.DataFrame, fraction: float, seed: int) -> pd.Series:
    """Stratified train/val assignment by unique image, so exact copies never straddle the two."""
    firsts = train.drop_duplicates("hash")
    rng = np.random.default_rng(seed)
    val_hashes: set[str] = set()
    for _, group in firsts.groupby("label", sort=True):
        n_val = int(round(len(group) * fraction))
        chosen = rng.choice(group["hash"].to_numpy(), size=n_val, replace=False)
        val_hashes.update(chosen.tolist())
    return train["hash"].map(lambda h: "val" if h in val_hashes else "train")


def save_arrays(frame: pd.DataFrame, pixels: dict[str, np.ndarray], path: Path, size: int) -> None:
    """Write one split's images and integer labels as a compressed npz."""
    x = np.stack([pixels[p] for p in frame["path"]]) if len(frame) else np.zeros((0, size, size), np.uint8)
    y = frame["label"].map(CLASSES.index).to_numpy(dtype=np.int64)
    np.savez_compressed(path, x=x, y=y)


def split_dataset(raw_dir: Path, cfg: dict, image_size: int = 48) -> dict:
    """Run the split stage; return the report also written to `split_report.json`."""
    check_split_params(cfg)
    frame = stratified_subset(scan(raw_dir), float(cfg["subset_fraction"]), cfg["seed"])

    pixels: dict[str, np.ndarray] = {}
    records = []
    for path in frame["path"]:
        decoded = decode_image(Path(path))
        if decoded.pixels is not None:
            pixels[path] = decoded.pixels
        records.append({
            "hash": pixel_hash(decoded.pixels) if decoded.pixels is not None else "",
            "height": decoded.height, "width": decoded.width, "channels": decoded.channels,
            "decodes": decoded.pixels is not None, "error": decoded.error,
        })
    frame = pd.concat([frame.reset_index(drop=True), pd.DataFrame(records)], axis=1)

    good = frame["decodes"]
    test_hashes = set(frame.loc[good & (frame["split"] == "test"), "hash"])
    in_train = good & (frame["split"] == "train")
    cross = in_train & frame["hash"].isin(test_hashes)
    within = {s: int(frame.loc[good & (frame["split"] == s), "hash"].duplicated().sum()) for s in SPLITS}
    if cfg["cross_split_duplicates"] == "drop":
        frame.loc[cross, "split"] = "dropped"
        in_train &= ~cross
    frame.loc[in_train, "split"] = assign_validation(frame[in_train], cfg["val_fraction"], cfg["seed"])

    out = Path(cfg["output_dir"])
    out.mkdir(parents=True, exist_ok=True)
    # Arrays must be square images of the expected size; anything else waits for validation to fail.
    usable = good & (frame["height"] == image_size) & (frame["width"] == image_size)
    for split in ("train", "val", "test"):
        save_arrays(frame[usable & (frame["split"] == split)], pixels, out / f"{split}.npz", image_size)
    frame[MANIFEST_COLUMNS].to_csv(out / "manifest.csv", index=False)

    report = {
        "counts": {s: frame.loc[usable & (frame["split"] == s), "label"].value_counts()
                   .reindex(CLASSES, fill_value=0).to_dict() for s in ("train", "val", "test")},
        "duplicates_within_split": within,
        "cross_split_duplicates": int(cross.sum()),
        "cross_split_policy": cfg["cross_split_duplicates"],
        "undecodable": frame.loc[~good, ["path", "error"]].to_dict("records"),
    }
    (out / "split_report.json").write_text(json.dumps(report, indent=2))
    return report


def load_split(output_dir: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """One split's images and class indices as the split stage wrote them; images without a
    majority label (FER+'s ties and non-faces, label -1) are left out."""
    x, y, _ = load_targets(output_dir, split)
    return x, y


def load_targets(output_dir: str | Path, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """`load_split`'s images and labels, and the soft training targets (N, classes) where the split
    has them (FER+'s vote distributions), else None."""
    path = Path(output_dir) / f"{split}.npz"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run the split stage first")
    with np.load(path) as data:
        x, y = data["x"], data["y"]
        targets = data["targets"] if "targets" in data.files else None
    keep = y >= 0
    if targets is not None:
        keep &= targets.sum(axis=1) > 0
    if keep.all():
        return x, y, targets
    return x[keep], y[keep], None if targets is None else targets[keep]


__all__ = ["split_dataset", "load_split", "load_targets", "decode_image", "pixel_hash", "ParamsError"]
