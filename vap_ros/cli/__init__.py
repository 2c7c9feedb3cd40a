"""The ``vap-ros`` command. Each subcommand lives in its own module with a ``register``
function; modules import the library lazily so ``vap-ros fk`` starts fast. No logic here.

Every error of the package (``VapError``) and of the file system (``OSError``) ends the command
with one line on stderr and exit status 2 (``-v`` logs the traceback too). Every ``--out`` (and
``bench --json``) is checked before the command runs: a folder that is a file, or a path that
cannot be created, is refused before any work."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from vap_ros.errors import VapError

__all__ = ["main"]

# Modules in vap_ros.cli, each with ``register(subparsers)``; the order is the help order.
COMMAND_MODULES = (
    "demo", "fk", "prompts", "dataset", "calibrate", "sim", "train", "eval",
    "experiment", "rank", "run", "label", "policy", "bench")
# (command, subcommand) whose --out names a file; every other --out names a folder.
FILE_OUTPUTS = {("sim", "contact-sheet"), ("calibrate", "refine"), ("label", None)}

log = logging.getLogger("vap_ros.cli")


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
        check_outputs(args)
        return int(args.func(args) or 0)
    except (VapError, OSError) as err:
        log.debug("%s failed", args.command, exc_info=True)
        print(f"vap-ros {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse unusable output paths before the command starts (see the module docstring).

    Raises:
        OutputError: naming the path.
    """
    from vap_ros.outputs import check_out_dir, check_out_file

    out = getattr(args, "out", None)
    if out:
        sub = getattr(args, f"{args.command}_command", None)
        if (args.command, sub) in FILE_OUTPUTS:
            check_out_file(out)
        else:
            check_out_dir(out)
    if getattr(args, "json", None):
        check_out_file(args.json, "--json")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
