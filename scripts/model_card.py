"""Write the shipped model's card from its run folder and evaluation (stdlib only).

    python scripts/model_card.py CARD_JSON WORK_DIR HARDWARE EPISODES [INIT]

Reads WORK_DIR/run/{run.json, config.yaml, budget.json} (and WORK_DIR/prior/ when the model was
trained from scratch in two stages), WORK_DIR/eval/metrics.json (the held-out evaluation, with
the action-following check), and INIT's own card when the run continued a trained model, and
merges them into CARD_JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    card_path, work, device, episodes = Path(argv[0]), Path(argv[1]), argv[2], argv[3]
    init = Path(argv[4]) if len(argv) > 4 and argv[4] else None
    card = json.loads(card_path.read_text())
    run = work / "run"
    if init is not None:
        recipe = (f"continued from {init} (train preset small_finetune: that model's ControlNet "
                  "+ LoRA trained on, motion-region loss x4, lr 2e-4 cosine)")
        recipe_md = init / "RECIPE.md"
        before = {"model_card": json.loads((init / "model_card.json").read_text()),
                  "recipe_md": recipe_md.read_text() if recipe_md.is_file() else None}
    else:
        recipe = ("two stages from random init: the video prior (small_prior, 1/3 of the "
                  "budget), then ControlNet on all 4 blocks + LoRA on the frozen prior at lr "
                  "4e-4 with the motion-region loss x4 (small_control, 2/3 of the budget)")
        prior = work / "prior"
        before = {"prior_run_json": json.loads((prior / "run.json").read_text()),
                  "prior_config_yaml": (prior / "config.yaml").read_text()}
    ev = json.loads((work / "eval" / "metrics.json").read_text())
    budget = run / "budget.json"
    follow = ev.get("following", {})
    card["training_data"] = {
        "source": "simulated Franka rig (vap_ros.sim), scripted reach/push/pick_place/poke tasks",
        "train": f"{episodes} episodes, seed 1, 3 fixed cameras, 64x64 @ 10 Hz -> clips of 9 "
                 "frames at 5 fps, each view its own sample",
        "held_out": "8 episodes, seed 1001 (same rig options)",
        "action_following": "12 scenes (seed 2001) recorded with each of the 4 tasks: pairs of "
                            "clips with identical first frames and different plans",
        "prompts": "commanded plan (/planned_trajectory)",
        "recipe": recipe,
        "before_this_run": before,
        "hardware": device,
        "reproduce": "scripts/train_default_model.sh",
        "run_json": json.loads((run / "run.json").read_text()),
        "config_yaml": (run / "config.yaml").read_text(),
        "budget": json.loads(budget.read_text()) if budget.is_file() else None,
    }
    card["metrics"] = {
        "held_out": {k: v["aggregate"] for k, v in ev["models"].items()},
        "action_following": {k: v["aggregate"] for k, v in follow.get("models", {}).items()},
        "action_following_pairs": follow.get("pairs"),
        "settings": ev.get("settings"), "notes": ev.get("notes", [])}
    card_path.write_text(json.dumps(card, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
