"""Entry point of the `emoscan` command."""

from __future__ import annotations

import argparse
import sys

from emoscan import __version__
from emoscan.cli import batch, importer, live, predict, serve, video
from emoscan.cli.common import CliError, fail


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emoscan", description="Facial expression recognition (FER-2013: 7 emotions; FER+: 8) for images, "
                                    "videos and live sources.")
    parser.add_argument("--version", action="version", version=f"emoscan {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (predict, video, live, batch, serve, importer):
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except CliError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
