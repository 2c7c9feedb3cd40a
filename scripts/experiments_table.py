"""Markdown tables of scripts/experiments.sh: mean and spread (min..max) over seeds.

    python scripts/experiments_table.py WORK_DIR SEED [SEED ...]
    python scripts/experiments_table.py --prompt-types WORK_DIR SEED [SEED ...]

Reads WORK_DIR/eval_{fixed,random,logged}_s<SEED>/metrics.json (``vap-ros eval`` reports), or
with --prompt-types WORK_DIR/eval_pt_<TYPE>_s<SEED>/metrics.json (EXPERIMENT=prompt_types): one
row per prompt type, its gain over copy-first-frame taken within each seed's evaluation.
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
PROMPT_TYPES = ("skeleton", "depth", "silhouette", "skeleton+depth")
PROMPT_COLUMNS = (("psnr", "PSNR dB", 2), ("gain_db", "gain over copy dB", 2),
                  ("ssim", "SSIM", 3), ("st_iou", "ST-IoU", 3),
                  ("gripper_psnr", "gripper PSNR dB", 2), ("pass_rate", "pairs passed", 2),
                  ("follow_rate", "plans followed", 2))
COPY = "copy-first-frame"


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


def _prompt_type_rows(work: Path, seeds: list[str]) -> dict[str, dict[str, list[float]]]:
    """{type or copy-first-frame: {metric: [value per seed]}} from eval_pt_<type>_s<seed>."""
    rows: dict[str, dict[str, list[float]]] = {}
    copy_seeds: set[str] = set()  # copy-first-frame sees the same clips under every type
    for t in PROMPT_TYPES:
        for seed in seeds:
            path = work / f"eval_pt_{t}_s{seed}" / "metrics.json"
            if not path.is_file():
                continue
            report = json.loads(path.read_text())
            follow = report.get("following", {}).get("models", {})
            copy = report["models"][COPY]["aggregate"]
            for label, entry in report["models"].items():
                name = COPY if label == COPY else t
                if name == COPY:
                    if seed in copy_seeds:
                        continue
                    copy_seeds.add(seed)
                row = rows.setdefault(name, {})
                agg = dict(entry["aggregate"])
                agg["gain_db"] = agg["psnr"] - copy["psnr"]
                agg.update(follow.get(label, {}).get("aggregate", {}))
                for key, value in agg.items():
                    row.setdefault(key, []).append(value)
    return rows


def prompt_types_table(work: Path, seeds: list[str]) -> list[str]:
    lines = [f"Seeds: {', '.join(seeds)}; cells: mean (min..max over seeds). Each type is "
             "trained and evaluated on clips of the same episodes with its own prompts.", ""]
    return lines + _table(_prompt_type_rows(work, seeds), PROMPT_COLUMNS, "prompt type")


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--prompt-types":
        print("\n".join(prompt_types_table(Path(argv[1]), argv[2:])))
        return 0
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
