"""`emoscan batch INPUT... --output results.parquet`: every face in many images and videos, on Ray."""

from __future__ import annotations

import argparse
import json
import sys

from emoscan.cli.common import CliError, add_model_argument, require_extra


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("batch", help="analyse many images and videos into a Parquet (or CSV) table, on Ray",
                       description="Every face in every image and video named, one row per face, on Ray Data: a "
                                   "local Ray on this machine, or a Ray cluster with --address. A rerun with the "
                                   "same output skips the files already done.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="files, folders (recursively), glob patterns (quoted; ** recursive), or CSV/Parquet "
                        "manifests with a 'path' column")
    p.add_argument("-o", "--output", required=True, metavar="PATH",
                   help="results.parquet (a folder of part files; results.files.parquet and "
                        "results.errors.parquet beside it) or results.csv with --format csv")
    p.add_argument("--format", choices=("parquet", "csv"), help="output format (default: params.yaml batch.output_format)")
    p.add_argument("--frame-rate", type=float, metavar="FPS", help="analysed frames per second of videos "
                   "(default: params.yaml batch.frame_rate)")
    add_model_argument(p)
    p.add_argument("--address", metavar="ADDRESS", help="a Ray cluster (ray://host:10001 or host:6379; default: "
                   "RAY_ADDRESS, else a local Ray on this machine)")
    p.add_argument("--workers", type=int, metavar="N", help="recognizers running at once, one CPU each "
                   "(default: one per CPU of the cluster)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.frame_rate is not None and args.frame_rate <= 0:
        raise CliError(f"--frame-rate must be above 0, got {args.frame_rate}")
    if args.workers is not None and args.workers < 1:
        raise CliError(f"--workers must be at least 1, got {args.workers}")
    require_extra("batch", "batch", "ray", "pandas", "pyarrow")
    # here, not at the top: `emoscan --help` works without the batch extra
    from emoscan.batch import run_batch
    from emoscan.batch.inputs import InputError

    try:
        report = run_batch(args.inputs, args.output, frame_rate=args.frame_rate, model=args.model,
                           output_format=args.format, address=args.address, workers=args.workers,
                           progress=not args.quiet)
    except InputError as exc:
        raise CliError(str(exc)) from None
    print(json.dumps(report.to_dict()))
    if report.interrupted:
        print(f"emoscan: interrupted; {report.analysed} files written to {report.output}: run the same command "
              "again to continue", file=sys.stderr)
        return 130
    if report.failed:
        print(f"emoscan: {report.failed} of {report.analysed} files could not be analysed (see the errors table)",
              file=sys.stderr)
    return 0
