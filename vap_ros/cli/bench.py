"""``vap-ros bench <what>``: speed and memory benchmarks (reported, never asserted)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

# Modules in vap_ros.bench; each has HELP, add_arguments(parser) and run(args) -> dict.
BENCH_MODULES = ("prompts", "sim", "dataset", "train", "model", "node")


def register(sub) -> None:
    p = sub.add_parser("bench", help="benchmarks: prompts, …")
    bsub = p.add_subparsers(dest="bench_command", metavar="WHAT")
    bsub.required = True
    for name in BENCH_MODULES:
        mod = importlib.import_module(f"vap_ros.bench.{name}")
        b = bsub.add_parser(name, help=mod.HELP, description=mod.__doc__)
        mod.add_arguments(b)
        b.add_argument("--json", default=None, help="also write the report to this JSON file")
        b.set_defaults(func=_runner(mod))


def _runner(mod):
    def run(args) -> int:
        report = mod.run(args)
        width = max(len(k) for k in report)
        for k, v in report.items():
            print(f"{k:<{width}}  {v:.4g}" if isinstance(v, float) else f"{k:<{width}}  {v}")
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2))
        return 0

    return run
