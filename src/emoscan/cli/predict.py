"""`emoscan predict IMAGE...`: every face's emotion in each image."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
from tqdm import tqdm

from emoscan.cli.common import CliError, add_model_argument, load_recognizer, require_file
from emoscan.inference.annotate import draw_faces
from emoscan.inference.decode import ImageDecodeError

#: what a folder given to `predict` is searched for
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="classify every face in one or more images",
                       description="Find every face in each image and print its emotion.")
    p.add_argument("images", nargs="+", metavar="IMAGE",
                   help="image files (JPEG, PNG, WebP, BMP) or folders (their images, recursively)")
    p.add_argument("--json", action="store_true", help="print one JSON document with all results")
    p.add_argument("--annotate", metavar="DIR", type=Path, help="write annotated copies into DIR")
    add_model_argument(p)
    p.set_defaults(run=run)


def image_paths(arguments: list[str]) -> list[tuple[Path, bool]]:
    """(path, named on the command line) for each image: files as given, folders expanded to the
    image files under them (by extension, recursively, sorted)."""
    paths: list[tuple[Path, bool]] = []
    for argument in arguments:
        folder = Path(argument)
        if folder.is_dir():
            found = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise CliError(f"{argument}: a folder with no image files ({', '.join(IMAGE_SUFFIXES)})")
            paths += [(p, False) for p in found]
        else:
            paths.append((require_file(argument), True))
    return paths


def run(args: argparse.Namespace) -> int:
    paths = image_paths(args.images)
    recognizer = load_recognizer(args.model)
    results = []
    failed = 0
    bar = tqdm(total=len(paths), unit="image", file=sys.stderr, disable=len(paths) < 10 or args.json)
    for path, named in paths:
        bar.update(1)
        try:  # the service's strict decoding: EXIF orientation, truncated files refused
            image = recognizer.load_image(path)
        except ImageDecodeError as exc:
            if named:
                raise CliError(str(exc)) from None
            failed += 1  # an image found in a folder: reported, and the others go on
            tqdm.write(f"emoscan: error: {exc}", file=sys.stderr)
            continue
        faces = recognizer.detect_emotions(image)
        results.append({"image": str(path), "faces": [f.to_dict() for f in faces]})
        if args.annotate:
            args.annotate.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(args.annotate / path.name), draw_faces(image, faces))
        if not args.json:
            summary = ", ".join(f"{f.emotion} ({f.confidence:.0%}) at {f.box.to_list()}" for f in faces)
            tqdm.write(f"{path}: {len(faces)} face(s){': ' + summary if faces else ''}", file=sys.stdout)
    bar.close()
    if args.json:
        print(json.dumps(results if len(results) > 1 else results[0], indent=2))
    if failed:
        print(f"emoscan: {failed} of {len(paths)} images could not be read", file=sys.stderr)
    return 1 if failed else 0
