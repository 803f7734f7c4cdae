"""`emoscan predict IMAGE...`: every face's emotion in each image."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2

from emoscan.cli.common import CliError, load_recognizer, require_file
from emoscan.inference.annotate import draw_faces
from emoscan.inference.decode import ImageDecodeError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="classify every face in one or more images",
                       description="Find every face in each image and print its emotion.")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (JPEG, PNG, WebP, BMP, ...)")
    p.add_argument("--json", action="store_true", help="print one JSON document with all results")
    p.add_argument("--annotate", metavar="DIR", type=Path, help="write annotated copies into DIR")
    p.add_argument("--model", metavar="PATH", help="model bundle or .onnx (default: MODEL_PATH or shipped model)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    paths = [require_file(p) for p in args.images]
    recognizer = load_recognizer(args.model)
    results = []
    for path in paths:
        try:  # the service's strict decoding: EXIF orientation, truncated files refused
            image = recognizer.load_image(path)
        except ImageDecodeError as exc:
            raise CliError(str(exc)) from None
        faces = recognizer.detect_emotions(image)
        results.append({"image": str(path), "faces": [f.to_dict() for f in faces]})
        if args.annotate:
            args.annotate.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(args.annotate / path.name), draw_faces(image, faces))
        if not args.json:
            summary = ", ".join(f"{f.emotion} ({f.confidence:.0%}) at {f.box.to_list()}" for f in faces)
            print(f"{path}: {len(faces)} face(s){': ' + summary if faces else ''}")
    if args.json:
        print(json.dumps(results if len(results) > 1 else results[0], indent=2))
    return 0
