"""Markdown tables of scripts/experiments.sh: mean and spread (min..max) over seeds.

    python scripts/experiments_table.py WORK_DIR SEED [SEED ...]

Reads WORK_DIR/eval_{fixed,random,logged}_s<SEED>/metrics.json (``vap-ros eval`` reports).
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path

METRICS = (("psnr", "PSNR dB", 2), ("ssim", "SSIM", 3), ("st_iou", "ST-IoU", 3),
           ("gripper_psnr", "gripper PSNR dB", 2))
FOLLOW = (("pass_rate", "pairs passed", 2), ("follow_rate", "plans followed", 2),
          ("own_iou", "IoU own plan", 3), ("cross_iou", "IoU other plan", 3))


def _name(label: str) -> str:
    """'…/runs/fixed_raw_action_s0 [raw_action]' -> 'raw_action'; copy-first-frame stays."""
    m = re.search(r"runs/(?:fixed|random)_(.+?)_s\d+", label)
    return m.group(1) if m else label


def _cell(values: list[float], digits: int) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ({min(values):.{digits}f}..{max(values):.{digits}f})"


def _collect(work: Path, kind: str, seeds: list[str], section: str = "models"):
    rows: dict[str, dict[str, list[float]]] = {}
    for seed in seeds:
        path = work / f"eval_{kind}_s{seed}" / "metrics.json"
        if not path.is_file():
            continue
        report = json.loads(path.read_text())
        models = report["models"] if section == "models" else report.get("following",
                                                                          {}).get("models", {})
        for label, entry in models.items():
            agg = entry["aggregate"]
            row = rows.setdefault(_name(label), {})
            for key in agg:
                row.setdefault(key, []).append(agg[key])
    return rows


def _table(rows, columns, first: str) -> list[str]:
    out = [f"| {first} | " + " | ".join(c[1] for c in columns) + " |",
           "|---" * (len(columns) + 1) + "|"]
    for name, row in rows.items():
        out.append(f"| {name} | " + " | ".join(_cell(row.get(k, []), d) for k, _, d in columns)
                   + " |")
    return out


def main(argv: list[str]) -> int:
    work, seeds = Path(argv[0]), argv[1:]
    lines = [f"Seeds: {', '.join(seeds)}; cells: mean (min..max over seeds).", ""]
    for kind, title in (("fixed", "Fixed cameras"), ("random", "Randomised cameras")):
        lines += [f"### {title}", ""] + _table(_collect(work, kind, seeds), METRICS, "model")
        follow = _collect(work, kind, seeds, "following")
        if follow:
            lines += ["", f"Action following ({title.lower()}):", ""]
            lines += _table(follow, FOLLOW, "model")
        lines.append("")
    rows = _collect(work, "logged", seeds)
    rows = {("trained on logged states" if "logged" in k else
             "trained on commanded plans" if k == "skeleton" else k): v for k, v in rows.items()}
    lines += ["### Commanded vs logged prompts at training time (evaluated on commanded plans)",
              ""] + _table(rows, METRICS, "training prompts")
    follow = _collect(work, "logged", seeds, "following")
    if follow:
        follow = {("trained on logged states" if "logged" in k else
                   "trained on commanded plans" if k == "skeleton" else k): v
                  for k, v in follow.items()}
        lines += ["", "Action following:", ""] + _table(follow, FOLLOW, "training prompts")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
