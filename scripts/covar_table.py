"""The comparison table of docs/policy.md, "Action head vs action images": per output form and
test cameras, the labelling error and the policy success per task, and the transfer ratio.

    python scripts/covar_table.py NAME=LABEL_DIR[:POLICY_FIXED:POLICY_RAND] ...

LABEL_DIR is a ``vap-ros experiment labelling`` output (its ``labelling.json``, groups named
``fixed`` and ``randomised``); POLICY_FIXED / POLICY_RAND are prefixes of ``vap-ros policy
eval --json`` files, ``<prefix><task>.json`` (fixed / randomised cameras), or empty.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TASKS = ("reach", "push", "pick_place")
GROUPS = (("fixed", "fixed"), ("randomised", "randomised"))


def _policy(prefix: str, task: str) -> str:
    p = Path(f"{prefix}{task}.json")
    if not prefix or not p.is_file():
        return "—"
    r = json.loads(p.read_text())
    return f"{r['success_rate']:.2f} ({r['mean_final_error_m']:.2f} m)"


def main(argv: list[str]) -> int:
    if not argv or any("=" not in a for a in argv):
        print(__doc__, file=sys.stderr)
        return 2
    head = ("| output form (training cameras) | test cameras | position mm median | p90 | "
            "rotation ° median | gripper accuracy | "
            + " | ".join(f"policy {t}: success (mean error)" for t in TASKS) + " |")
    rows = [head, "|" + "---|" * (6 + len(TASKS))]
    ratios = []
    for arg in argv:
        name, spec = arg.split("=", 1)
        label_dir, _, pol = spec.partition(":")
        fixed_prefix, _, rand_prefix = pol.partition(":")
        report = json.loads((Path(label_dir) / "labelling.json").read_text())["groups"]
        med = {}
        for key, cams in GROUPS:
            s = report[key]["model"]
            med[key] = s["position_mm_median"]
            prefix = fixed_prefix if key == "fixed" else rand_prefix
            rows.append(f"| {name} | {cams} | {s['position_mm_median']:.1f} | "
                        f"{s['position_mm_p90']:.1f} | {s['rotation_deg_median']:.1f} | "
                        f"{s['gripper_accuracy']:.3f} | "
                        + " | ".join(_policy(prefix, t) for t in TASKS) + " |")
        base = {k: report[k]["mean_pose"]["position_mm_median"] for k, _ in GROUPS}
        ratios.append(f"| {name} | {med['randomised'] / med['fixed']:.2f} | "
                      f"{med['fixed'] / base['fixed']:.2f} | "
                      f"{med['randomised'] / base['randomised']:.2f} |")
    print("\n".join(rows))
    print()
    print("| output form | transfer: randomised / fixed median position error | fixed / "
          "mean-pose baseline | randomised / mean-pose baseline |")
    print("|---|---|---|---|")
    print("\n".join(ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
