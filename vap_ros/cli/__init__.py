"""The ``vap-ros`` command. Each subcommand lives in its own module with a ``register``
function; modules import the library lazily so ``vap-ros fk`` starts fast. No logic here."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from vap_ros.errors import VapError

__all__ = ["main"]

# Modules in vap_ros.cli, each with ``register(subparsers)``; the order is the help order.
COMMAND_MODULES = (
    "demo", "fk", "prompts", "dataset", "calibrate", "sim", "train", "eval", "run", "bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vap-ros",
        description="vap_ros: visual action prompts and a video world model for a Franka rig.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"vap_ros.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except VapError as err:
        print(f"vap-ros {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
