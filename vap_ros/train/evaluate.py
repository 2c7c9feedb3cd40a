"""Evaluate world models on recorded clips, side by side with baselines.

For each clip the model gets the real first frame(s) and the clip's prompts (or actions) and
predicts the whole clip; the prediction is scored against the recording with PSNR, SSIM,
ST-IoU and gripper-region PSNR (``vap_ros.train.metrics``; frame 0 is excluded from PSNR/SSIM
because every model is given it). Baselines run on the same clips in the same call:
``copy-first-frame`` (the first frame held still) and any other trained model by path
(raw-action, no-action, older checkpoints). Results: per-clip and aggregated JSON, a printed
table, and side-by-side MP4/GIF videos (real | predicted | prompt) for the first N clips.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vap_ros.errors import ConfigError
from vap_ros.train import metrics

__all__ = ["COPY_FIRST_FRAME", "EvalSettings", "clip_uint8", "evaluate", "format_table",
           "load_models", "predict_clip"]

COPY_FIRST_FRAME = "copy-first-frame"
METRICS = metrics.METRICS
HEADERS = {"psnr": "PSNR dB ↑", "ssim": "SSIM ↑", "st_iou": "ST-IoU ↑",
           "gripper_psnr": "gripper PSNR dB ↑"}


@dataclass
class EvalSettings:
    """Attributes:
        max_clips: evaluate the first N clips (None: all).
        steps: sampler steps (None: each model's default).
        seed: sampling seed (the same for every clip and model).
        videos: write side-by-side MP4 + GIF for the first N clips.
        region_radius: gripper region disc radius as a fraction of min(H, W).
        motion_threshold: ST-IoU motion threshold as a fraction of the intensity range.
        guidance_scale: classifier-free guidance on the action prompt (1: none; models
            without an action condition always run without).
    """

    max_clips: int | None = None
    steps: int | None = None
    seed: int = 0
    videos: int = 2
    region_radius: float = 0.08
    motion_threshold: float = 0.1
    guidance_scale: float = 1.0


def clip_uint8(dataset, i: int) -> dict[str, Any]:
    """Clip i as uint8 videos: video/prompts (V, T, H, W, 3), actions (T, D), keypoints_uv
    (V, T, K, 2), name. Uses ``dataset.raw`` (bit-exact stored frames) when it exists."""
    if hasattr(dataset, "raw"):
        r = dataset.raw(i)
        src = getattr(dataset, "source", "logged")
        meta = r.get("meta", {})
        return {"video": r["video"], "prompts": r[f"prompts_{src}"],
                "actions": np.asarray(r[f"actions_{src}"], np.float32),
                "keypoints_uv": np.asarray(r[f"keypoints_uv_{src}"], np.float32),
                "name": f"{Path(str(meta.get('bag', 'clip'))).name}#{i}"}
    item = dataset[i]

    def u8(x):
        x = ((x.float() + 1.0) * 127.5).round().clamp(0, 255).to(dtype=__import__("torch").uint8)
        return x.permute(0, 2, 3, 4, 1).numpy()  # (V, 3, T, H, W) -> (V, T, H, W, 3)

    meta = item.get("meta", {}) or {}
    return {"video": u8(item["video"]), "prompts": u8(item["prompts"]),
            "actions": item["actions"].numpy().astype(np.float32),
            "keypoints_uv": item["keypoints_uv"].numpy().astype(np.float32),
            "name": str(meta.get("bag", "clip")) + f"#{i}"}


def predict_clip(model, clip: dict, *, steps: int | None = None, seed: int = 0,
                 guidance_scale: float = 1.0) -> np.ndarray:
    """A model's (V, T, H, W, 3) uint8 prediction of a clip, or copy-first-frame."""
    video = clip["video"]
    if isinstance(model, str) and model == COPY_FIRST_FRAME:
        return np.repeat(video[:, :1], video.shape[1], axis=1)
    cond = model.config.conditioning
    return model.predict(video[:, 0], prompts=clip["prompts"] if cond == "skeleton" else None,
                         actions=clip["actions"] if cond == "raw_action" else None,
                         steps=steps, seed=seed,
                         guidance_scale=guidance_scale if cond != "none" else 1.0)


def load_models(checkpoint: str | Path, baselines: Sequence[str | Path] = (), *,
                device: str = "cpu", dtype: str = "float32") -> dict[str, Any]:
    """``{label: model}``: the checkpoint, copy-first-frame, then each baseline path.

    Paths may be run folders (newest valid checkpoint), checkpoint folders or
    ``save_pretrained`` folders. Models are loaded as the nodes load them
    (``vap_ros.serve.load_world_model``: on ``device`` in ``dtype``, VAE tiling for latent
    models, eval mode).

    Raises:
        CheckpointError: a path holds nothing loadable or a corrupt checkpoint.
        ConfigError: an unknown dtype.
    """
    from vap_ros.serve import load_world_model
    from vap_ros.train.checkpoint import resolve_model_dir

    models: dict[str, Any] = {}
    for path in [checkpoint, *baselines]:
        wm, _ = load_world_model(str(resolve_model_dir(path)), device=device, dtype=dtype)
        cond = wm.config.conditioning
        kind = getattr(wm.config, "prompt_type", "skeleton") if cond == "skeleton" else cond
        label = f"{_label(path)} [{kind}]"
        while label in models:
            label += "'"
        models[label] = wm
        if len(models) == 1:
            models[COPY_FIRST_FRAME] = COPY_FIRST_FRAME
    return models


def _label(path) -> str:
    p = Path(path).resolve()
    parts = [x for x in p.parts[-3:] if x not in ("model", "checkpoints")]
    return "/".join(parts) or p.name


def prompt_type_of(dataset) -> str:
    """The prompt type of a dataset's clips (``ClipDataset.prompt_type``; "skeleton" for
    datasets that do not say)."""
    return getattr(dataset, "prompt_type", "skeleton")


def _gripper_indices(dataset) -> list[int]:
    idx = list(getattr(dataset, "gripper_keypoints", []) or [])
    if not idx:
        from vap_ros.robot import SkeletonSpec

        idx = [int(i) for i in SkeletonSpec.from_preset("panda").gripper]
    return idx


def _score(real: np.ndarray, pred: np.ndarray, region: np.ndarray,
           s: EvalSettings) -> dict[str, float]:
    """Metrics of one clip: per view, then the mean over views."""
    rows = [metrics.score(real[v], pred[v], region[v], motion_threshold=s.motion_threshold)
            for v in range(real.shape[0])]
    return {k: metrics.finite_mean([r[k] for r in rows]) for k in METRICS}


def evaluate(models: dict[str, Any], dataset, out: str | Path | None = None,
             settings: EvalSettings | None = None, progress: bool = True) -> dict[str, Any]:
    """Score every model on the same clips; write metrics.json and videos under ``out``.

    Returns:
        ``{"settings", "clips", "models": {label: {"aggregate", "clips", "seconds"}}, "notes"}``
        with per-clip rows in dataset order. Aggregates are means over clips (NaN entries —
        gripper out of view — are left out and counted in ``gripper_psnr_clips``).
    Raises:
        ConfigError: no clips, or a model whose size/frames or prompt type do not fit the
            clips.
    """
    import torch

    from vap_ros.model.config import check_prompt_type
    from vap_ros.train.interaction import region_mask
    from vap_ros.train.video import side_by_side, write_gif, write_mp4

    s = settings or EvalSettings()
    n = len(dataset) if s.max_clips is None else min(s.max_clips, len(dataset))
    if n == 0:
        raise ConfigError("evaluation dataset holds no clips")
    first = clip_uint8(dataset, 0)
    _, T, H, W, _ = first["video"].shape
    for label, m in models.items():
        if isinstance(m, str):
            continue
        c = m.config
        if (c.num_frames, c.height, c.width) != (T, H, W):
            raise ConfigError(f"model {label} takes {c.num_frames} frames of {c.height}x"
                              f"{c.width}; the clips have {T} frames of {H}x{W}")
        check_prompt_type(c, prompt_type_of(dataset), f"the evaluation clips (model {label})")
    grip = _gripper_indices(dataset)
    out = Path(out) if out is not None else None
    report: dict[str, Any] = {
        "settings": {**s.__dict__, "clips": n, "frames": T, "height": H, "width": W,
                     "gripper_keypoints": grip},
        "clips": [], "models": {label: {"clips": [], "seconds": 0.0} for label in models},
        "notes": _notes(s)}
    from tqdm.auto import tqdm

    for i in tqdm(range(n), desc="eval", unit="clip", disable=not progress):
        clip = first if i == 0 else clip_uint8(dataset, i)
        report["clips"].append(clip["name"])
        kp = torch.from_numpy(clip["keypoints_uv"][:, :, grip])
        region = region_mask(kp, H, W, radius_px=s.region_radius * min(H, W),
                             shape="disc").numpy() > 0.5
        for label, m in models.items():
            t0 = time.perf_counter()
            with torch.no_grad():
                pred = predict_clip(m, clip, steps=s.steps, seed=s.seed,
                                    guidance_scale=s.guidance_scale)
            report["models"][label]["seconds"] += time.perf_counter() - t0
            row = {"clip": clip["name"], **_score(clip["video"], pred, region, s)}
            report["models"][label]["clips"].append(row)
            if out is not None and i < s.videos and not isinstance(m, str):
                for v in range(pred.shape[0]):
                    frames = side_by_side(clip["video"][v], pred[v], clip["prompts"][v],
                                          scale=max(1, 256 // max(H, W)))
                    stem = out / "videos" / _slug(label) / f"clip{i:04d}_view{v}"
                    fps = float(getattr(m.config, "fps", 8.0))
                    write_mp4(stem.with_suffix(".mp4"), frames, fps)
                    write_gif(stem.with_suffix(".gif"), frames, fps)
    for entry in report["models"].values():
        rows = entry["clips"]
        agg = {k: metrics.finite_mean([r[k] for r in rows]) for k in METRICS}
        agg["gripper_psnr_clips"] = sum(not math.isnan(r["gripper_psnr"]) for r in rows)
        agg["clips"] = len(rows)
        agg["seconds_per_clip"] = entry["seconds"] / len(rows)
        entry["aggregate"] = agg
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(_jsonable(report), indent=2))
        (out / "table.txt").write_text(format_table(report) + "\n")
    return report


def _notes(s: EvalSettings) -> list[str]:
    notes = ["LPIPS and FVD are not computed: they need pretrained networks (AlexNet/VGG, I3D) "
             "that vap_ros neither ships nor downloads; score the written videos with your own "
             "tools if you need them"]
    notes.append("PSNR/SSIM/gripper PSNR exclude frame 0 (given to every model); ST-IoU uses "
                 "all frames; see docs/train.md for the definitions")
    notes.append(f"per-clip PSNR is capped at {metrics.UINT8_PSNR_CEILING_DB:.1f} dB (identical "
                 "up to uint8 rounding) so that static clips do not make means infinite")
    return notes


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_") or "model"


def _jsonable(x):
    if isinstance(x, float):
        if math.isnan(x):
            return None
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, np.integer)):
        return _jsonable(x.item())
    return x


def format_table(report: dict[str, Any]) -> str:
    """Plain-text table: one row per model, aggregate metrics as columns."""
    header = ["model"] + [HEADERS[k] for k in METRICS] + ["s/clip"]
    rows = []
    for label, entry in report["models"].items():
        a = entry["aggregate"]
        rows.append([label] + [_fmt(a[k], 3 if k in ("ssim", "st_iou") else 2)
                               for k in METRICS] + [f"{a['seconds_per_clip']:.2f}"])
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    clips = report["settings"]["clips"]
    lines.append(f"({clips} clips; gripper PSNR over clips with the gripper in view)")
    lines += [f"note: {n}" for n in report["notes"]]
    return "\n".join(lines)


def _fmt(v: float, digits: int) -> str:
    if math.isnan(v):
        return "n/a"
    if math.isinf(v):
        return "inf"
    return f"{v:.{digits}f}"
