"""Action following: one first frame, two plans; does the predicted arm follow each plan?

A world model that only paints a plausible future can score well on PSNR by keeping the arm
still. This check asks the question the prompt exists for. Two recordings start from the *same*
scene and robot state (same first frame, bit for bit) and then run different plans (e.g. the
simulator's ``reach`` and ``push`` in the same layout). The model predicts the shared first
frame under plan A and under plan B. With ``M(x)`` the motion mask of a video (the ST-IoU mask,
``metrics.motion_masks``), plan A is *followed* when

    IoU(M(pred_A), M(real_A)) > IoU(M(pred_A), M(real_B)),

and a pair passes when both plans are followed. A model that ignores the prompt predicts the
same video for both plans and can follow at most one of them: it passes no pair, and follows
at most half of the plans. IoUs are averaged over the views of a clip.

Pairs come from a clip cache holding such branching recordings: the clips whose first frames
(all views) are identical and which come from different bags; of each bag the earliest clip.
Pairs whose two real motions overlap too much (IoU above ``max_real_iou``) say little and are
left out (counted).
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from vap_ros.errors import ConfigError
from vap_ros.train import metrics

__all__ = ["FollowSettings", "evaluate_following", "find_pairs", "follow_pair",
           "format_following"]


@dataclass
class FollowSettings:
    """Attributes:
        steps: sampler steps (None: each model's default). seed: sampling seed.
        threshold: motion-mask threshold (fraction of the range), as ST-IoU's.
        max_real_iou: leave out pairs whose real motions overlap more than this.
        max_pairs: score at most this many pairs (None: all).
        guidance_scale: classifier-free guidance on the action prompt (1: none).
    """

    steps: int | None = None
    seed: int = 0
    threshold: float = 0.1
    max_real_iou: float = 0.5
    max_pairs: int | None = None
    guidance_scale: float = 1.0


def _iou(a: np.ndarray, b: np.ndarray, threshold: float) -> float:
    """Motion-mask IoU of two (V, T, H, W, 3) videos, mean over views."""
    return float(np.mean([metrics.st_iou(a[v], b[v], threshold=threshold)
                          for v in range(a.shape[0])]))


def find_pairs(dataset, settings: FollowSettings | None = None) -> tuple[list, dict]:
    """Branching pairs ``(i, j)`` of clip indices in ``dataset`` (a ``ClipDataset`` or anything
    with ``raw(i)`` / ``clips``; see module docstring).

    Returns:
        (pairs, info) with info counting the groups and the pairs left out.
    """
    from vap_ros.train.evaluate import clip_uint8

    s = settings or FollowSettings()
    earliest: dict[str, tuple[int, int]] = {}  # bag -> (first image index, clip index)
    for i in range(len(dataset)):
        info = dataset.clips[i] if hasattr(dataset, "clips") else {}
        bag, start = str(info.get("bag", i)), int(np.min(info.get("image_index0", 0)))
        if bag not in earliest or start < earliest[bag][0]:
            earliest[bag] = (start, i)
    first: dict[tuple[str, str], int] = {}  # (first-frame hash, bag) -> clip index
    for bag, (_start, i) in earliest.items():
        frame0 = np.ascontiguousarray(clip_uint8(dataset, i)["video"][:, 0])
        first[(hashlib.sha256(frame0.tobytes()).hexdigest(), bag)] = i
    groups: dict[str, list[int]] = {}
    for (key, _bag), i in sorted(first.items()):
        groups.setdefault(key, []).append(i)
    pairs, overlapping = [], 0
    for members in groups.values():
        for i, j in itertools.combinations(sorted(members), 2):
            a, b = clip_uint8(dataset, i)["video"], clip_uint8(dataset, j)["video"]
            if _iou(a, b, s.threshold) > s.max_real_iou:
                overlapping += 1
                continue
            pairs.append((i, j))
    info = {"groups": sum(len(m) > 1 for m in groups.values()), "pairs": len(pairs),
            "left_out_overlapping": overlapping}
    return pairs, info


def follow_pair(model, clip_a: dict, clip_b: dict, *, steps: int | None = None, seed: int = 0,
                threshold: float = 0.1, guidance_scale: float = 1.0) -> dict[str, Any]:
    """Score one branching pair (clips as ``evaluate.clip_uint8`` returns them).

    Raises:
        ConfigError: the two clips do not share their first frame.
    """
    from vap_ros.train.evaluate import predict_clip

    if not np.array_equal(clip_a["video"][:, 0], clip_b["video"][:, 0]):
        raise ConfigError(f"clips {clip_a.get('name')} and {clip_b.get('name')} do not share "
                          "their first frame: not a branching pair")
    pred_a = predict_clip(model, clip_a, steps=steps, seed=seed, guidance_scale=guidance_scale)
    pred_b = predict_clip(model, clip_b, steps=steps, seed=seed, guidance_scale=guidance_scale)
    real_a, real_b = clip_a["video"], clip_b["video"]
    row = {"own_a": _iou(pred_a, real_a, threshold), "cross_a": _iou(pred_a, real_b, threshold),
           "own_b": _iou(pred_b, real_b, threshold), "cross_b": _iou(pred_b, real_a, threshold)}
    row["follows_a"] = row["own_a"] > row["cross_a"]
    row["follows_b"] = row["own_b"] > row["cross_b"]
    row["passed"] = row["follows_a"] and row["follows_b"]
    return row


def evaluate_following(models: dict[str, Any], dataset, settings: FollowSettings | None = None,
                       progress: bool = True) -> dict[str, Any]:
    """Score every model (``{label: WorldModel or "copy-first-frame"}``) on the branching pairs
    of ``dataset``.

    Returns:
        ``{"settings", "pairs": info, "models": {label: {"aggregate", "pairs"}}}``; aggregate:
        ``pass_rate`` (pairs with both plans followed), ``follow_rate`` (plans followed),
        ``own_iou`` / ``cross_iou`` (mean motion IoU with the own / the other plan's motion).
    Raises:
        ConfigError: a model takes another prompt type than the clips hold, or the dataset
            holds no branching pair.
    """
    from tqdm.auto import tqdm

    from vap_ros.model.config import check_prompt_type
    from vap_ros.train.evaluate import clip_uint8, prompt_type_of

    for label, m in models.items():
        if not isinstance(m, str):
            check_prompt_type(m.config, prompt_type_of(dataset),
                              f"the action-following clips (model {label})")
    s = settings or FollowSettings()
    pairs, info = find_pairs(dataset, s)
    if s.max_pairs is not None:
        pairs = pairs[:s.max_pairs]
    if not pairs:
        raise ConfigError("the action-following cache holds no branching pair (clips of "
                          "different bags with identical first frames and distinct motions); "
                          "record the same seed with different --tasks (docs/train.md)")
    report: dict[str, Any] = {"settings": dict(s.__dict__), "pairs": info,
                              "models": {k: {"pairs": []} for k in models}}
    for i, j in tqdm(pairs, desc="action following", unit="pair", disable=not progress):
        a, b = clip_uint8(dataset, i), clip_uint8(dataset, j)
        for label, m in models.items():
            row = follow_pair(m, a, b, steps=s.steps, seed=s.seed, threshold=s.threshold,
                              guidance_scale=s.guidance_scale)
            report["models"][label]["pairs"].append({"a": a["name"], "b": b["name"], **row})
    for entry in report["models"].values():
        rows = entry["pairs"]
        entry["aggregate"] = {
            "pairs": len(rows),
            "pass_rate": float(np.mean([r["passed"] for r in rows])),
            "follow_rate": float(np.mean([r["follows_a"] for r in rows]
                                         + [r["follows_b"] for r in rows])),
            "own_iou": float(np.mean([r["own_a"] for r in rows] + [r["own_b"] for r in rows])),
            "cross_iou": float(np.mean([r["cross_a"] for r in rows]
                                       + [r["cross_b"] for r in rows]))}
    return report


def format_following(report: dict[str, Any]) -> str:
    """Plain-text table of an ``evaluate_following`` report."""
    header = ["model", "pairs passed", "plans followed", "IoU own plan", "IoU other plan"]
    rows = []
    for label, entry in report["models"].items():
        a = entry["aggregate"]
        rows.append([label, f"{a['pass_rate']:.2f}", f"{a['follow_rate']:.2f}",
                     f"{a['own_iou']:.3f}", f"{a['cross_iou']:.3f}"])
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["action following (same first frame, two plans):",
             "  ".join(h.ljust(w) for h, w in zip(header, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    info = report["pairs"]
    lines.append(f"({info['pairs']} pairs from {info['groups']} shared first frames; "
                 f"{info['left_out_overlapping']} pairs left out: real motions overlap > "
                 f"{report['settings']['max_real_iou']}; a prompt-blind model passes no pair)")
    return "\n".join(lines)

