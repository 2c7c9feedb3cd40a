"""The horizon curve: how a long autoregressive rollout drifts from the recording over a plan.

For every recorded episode whose (longest) plan lasts at least ``min_plan_s``, the model gets
the real first frame of every view at the plan's start and the whole plan's prompt video
(``vap_ros.data.plan_video``: the dataset builder's frames and prompts, at the model's fps and
size), and the plan is predicted three ways on the same frames:

* ``autoregressive``: ``WorldModel.predict_long``, each chunk conditioned on the previous
  chunk's last predicted frame;
* ``re-anchored``: the same, every chunk conditioned on the real frame at its start
  (``anchors=``; the output still holds only predictions);
* ``copy-first-frame``: the first frame held still.

Each is scored against the recording per frame (PSNR of frame k alone) and per time bin: bin b
is chunk b's window, frames s_b .. s_b + stride (s_b = b * stride, stride = T - 1), scored as
``vap-ros eval`` scores a clip (``vap_ros.train.metrics.score``: PSNR, SSIM and gripper PSNR
over the bin's new frames s_b + 1 .., ST-IoU over the motion from frame s_b on). Values are
kept per episode and view and aggregated (``finite_mean``) over every (episode, view) that
reaches the bin: the curve against time since the plan's start.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vap_ros.errors import ConfigError, PlanTooShort, VapError
from vap_ros.train import metrics

__all__ = ["WAYS", "HorizonSettings", "compare_reports", "format_comparison", "format_table",
           "horizon", "plot_comparison", "plot_curves", "rollouts", "score_rollout"]

#: The three predictions of a plan, in report order.
WAYS = ("autoregressive", "re-anchored", "copy-first-frame")
COLORS = {"autoregressive": (214, 39, 40), "re-anchored": (31, 119, 180),
          "copy-first-frame": (127, 127, 127)}  # RGB


@dataclass
class HorizonSettings:
    """Attributes:
        min_plan_s: episodes whose longest plan is shorter are skipped (and counted).
        max_episodes: score at most N episodes (None: all); the rest are counted as not read.
        steps: sampler steps per chunk (None: the model's).
        seed: sampling seed of every rollout.
        videos: write side-by-side MP4 + GIF + a frame-grid PNG for the first N episodes.
        source: prompts from the "commanded" plan or the "logged" joint states.
        region_radius: gripper region disc radius as a fraction of min(H, W).
        motion_threshold: ST-IoU motion threshold as a fraction of the intensity range.
    """

    min_plan_s: float = 10.0
    max_episodes: int | None = None
    steps: int | None = None
    seed: int = 0
    videos: int = 1
    source: str = "commanded"
    region_radius: float = 0.08
    motion_threshold: float = 0.1


def rollouts(model, pv, *, steps: int | None = None, seed: int = 0,
             callback=None) -> dict[str, np.ndarray]:
    """The three predictions (``WAYS``) of a plan video ``pv`` (``PlanVideo``), each uint8
    (V, L, H, W, 3) with frame 0 = the real first frame. ``callback(step)`` counts denoising
    steps over both model rollouts."""
    cfg = model.config
    first = pv.video[:, 0]
    kw: dict[str, Any] = {"prompts": pv.prompts, "steps": steps, "seed": seed,
                          "actions": pv.actions if cfg.conditioning == "raw_action" else None}
    per = len(_starts(pv.video.shape[1], cfg.num_frames)) * (steps or cfg.steps)

    def shifted(offset):
        return None if callback is None else (lambda i: callback(offset + i))

    return {
        "autoregressive": model.predict_long(first, callback=shifted(0), **kw),
        "re-anchored": model.predict_long(first, anchors=pv.video, callback=shifted(per), **kw),
        "copy-first-frame": np.repeat(pv.video[:, :1], pv.video.shape[1], axis=1),
    }


def _starts(length: int, num_frames: int) -> list[int]:
    from vap_ros.model.long_rollout import chunk_starts

    return chunk_starts(length, num_frames)


def score_rollout(real: np.ndarray, pred: np.ndarray, region: np.ndarray, stride: int, *,
                  motion_threshold: float = 0.1) -> dict[str, Any]:
    """Scores of one view's rollout: ``real``/``pred`` uint8 (L, H, W, 3), ``region`` bool
    (L, H, W) (gripper discs).

    Returns:
        ``{"frame_psnr": [L - 1 floats] (frames 1 .. L-1, each alone, capped like eval),
        "bins": [{"psnr", "ssim", "st_iou", "gripper_psnr"} per bin]}``; bin b covers frames
        b * stride .. min((b + 1) * stride, L - 1).
    """
    L = real.shape[0]
    frame_psnr = [metrics.capped(metrics.psnr(real[k:k + 1], pred[k:k + 1], skip_first=0))
                  for k in range(1, L)]
    bins = []
    for s in range(0, L - 1, stride):
        e = min(s + stride, L - 1) + 1
        bins.append(metrics.score(real[s:e], pred[s:e], region[s:e],
                                  motion_threshold=motion_threshold))
    return {"frame_psnr": frame_psnr, "bins": bins}


def horizon(model, episodes: Sequence[str | Path], out: str | Path | None = None,
            settings: HorizonSettings | None = None, *, config=None, label: str = "model",
            progress: bool = True) -> dict[str, Any]:
    """Predict and score the plans of recorded episodes (see the module docstring); write
    ``horizon.json``, ``horizon.png`` and videos under ``out``.

    Args:
        model: a ``WorldModel`` (its fps, size and clip length set the plan videos and bins).
        episodes: bag folders/files, or folders of bags (``vap_ros.data.bag_paths``).
        config: rig config for reading the bags (default ``sim``; clip settings ignored).
        label: the model's name in the report.
    Returns:
        ``{"settings", "model", "fps", "stride", "bin_s", "counts", "skipped", "episodes",
        "bins", "frames", "notes"}``: per-episode values (per way: frame PSNR per view, bin
        metrics per view) and per-bin / per-frame means over every (episode, view) reaching
        them. Episodes that are too short or fail to load are listed in ``skipped`` with the
        reason and counted in ``counts``.
    Raises:
        ConfigError: no episode could be scored.
        BagError: ``episodes`` names no bag.
    """
    import torch
    from tqdm.auto import tqdm

    from vap_ros.data import bag_paths
    from vap_ros.data.plan_video import read_plan_video
    from vap_ros.train.interaction import region_mask

    s = settings or HorizonSettings()
    cfg = model.config
    size, fps, stride = (cfg.height, cfg.width), float(cfg.fps), cfg.num_frames - 1
    steps = s.steps or cfg.steps
    paths = bag_paths(episodes)
    grip = _gripper_indices(config)
    report: dict[str, Any] = {
        "settings": {**asdict(s), "steps": steps}, "model": label, "fps": fps,
        "stride": stride, "bin_s": stride / fps, "ways": list(WAYS),
        "counts": {"found": len(paths), "scored": 0, "too_short": 0, "failed": 0,
                   "not_read": 0},
        "skipped": [], "episodes": [], "notes": _notes(s)}
    out = Path(out) if out is not None else None
    bar = tqdm(paths, desc="horizon", unit="episode", disable=not progress)
    for i, path in enumerate(bar):
        if s.max_episodes is not None and report["counts"]["scored"] >= s.max_episodes:
            report["counts"]["not_read"] = len(paths) - i
            break
        try:
            pv = read_plan_video(path, config, fps=fps, size=size, min_plan_s=s.min_plan_s,
                                 source=s.source,
                                 prompt_type=getattr(cfg, "prompt_type", "skeleton"))
        except PlanTooShort as err:
            report["counts"]["too_short"] += 1
            report["skipped"].append({"bag": str(path), "reason": "too short",
                                      "plan_s": round(err.duration_s, 3), "error": str(err)})
            continue
        except VapError as err:
            report["counts"]["failed"] += 1
            report["skipped"].append({"bag": str(path), "reason": "failed",
                                      "error": f"{type(err).__name__}: {err}"})
            continue
        V, L = pv.video.shape[:2]
        total = 2 * len(_starts(L, cfg.num_frames)) * steps
        sbar = tqdm(total=total, desc=Path(path).name, unit="step", leave=False,
                    disable=not progress)
        t0 = time.perf_counter()
        with torch.no_grad():
            preds = rollouts(model, pv, steps=steps, seed=s.seed,
                             callback=lambda k, _b=sbar: _b.update(k + 1 - _b.n))
        sbar.close()
        kp = torch.from_numpy(np.ascontiguousarray(pv.keypoints_uv[:, :, grip]))
        region = region_mask(kp, *size, radius_px=s.region_radius * min(size),
                             shape="disc").numpy() > 0.5
        entry: dict[str, Any] = {"bag": str(path), "cameras": pv.cameras,
                                 "plan_s": round(pv.plan_s, 3), "frames": L,
                                 "t_s": [round(float(t), 3) for t in pv.t_s],
                                 "seconds": round(time.perf_counter() - t0, 2), "ways": {}}
        for way, pred in preds.items():
            rows = [score_rollout(pv.video[v], pred[v], region[v], stride,
                                  motion_threshold=s.motion_threshold) for v in range(V)]
            entry["ways"][way] = {
                "frame_psnr": [r["frame_psnr"] for r in rows],  # [view][frame - 1]
                "bins": [{k: [r["bins"][b][k] for r in rows] for k in metrics.METRICS}
                         for b in range(len(rows[0]["bins"]))]}  # [bin][metric][view]
        report["episodes"].append(entry)
        report["counts"]["scored"] += 1
        if out is not None and len(report["episodes"]) <= s.videos:
            entry["videos"] = write_videos(out / "videos", pv, preds, fps, stride,
                                           prefix=f"{len(report['episodes']) - 1:03d}_")
    bar.close()
    if not report["episodes"]:
        c = report["counts"]
        raise ConfigError(f"no episode scored: {c['found']} found, {c['too_short']} with a plan "
                          f"shorter than {s.min_plan_s:g} s, {c['failed']} failed to load"
                          + "".join(f"\n  {x['bag']}: {x['error']}" for x in report["skipped"]))
    report["bins"], report["frames"] = _aggregate(report["episodes"], fps, stride)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "horizon.json").write_text(json.dumps(_jsonable(report), indent=1))
        (out / "table.txt").write_text(format_table(report) + "\n")
        plot_curves(report, out / "horizon.png")
    return report


def _gripper_indices(config) -> list[int]:
    from vap_ros.data.config import load_rig_config
    from vap_ros.robot import SkeletonSpec

    return [int(i) for i in SkeletonSpec.from_preset(load_rig_config(config).robot).gripper]


def _aggregate(episodes: list[dict], fps: float, stride: int) -> tuple[list, list]:
    """Per-bin and per-frame means over every (episode, view) that reaches them."""
    n_bins = max(len(e["ways"][WAYS[0]]["bins"]) for e in episodes)
    n_frames = max(e["frames"] for e in episodes) - 1
    bins = []
    for b in range(n_bins):
        row: dict[str, Any] = {"bin": b, "t0_s": round(b * stride / fps, 3),
                               "t1_s": round((b + 1) * stride / fps, 3)}
        have = [e for e in episodes if b < len(e["ways"][WAYS[0]]["bins"])]
        row["episodes"] = len(have)
        row["views"] = sum(len(e["cameras"]) for e in have)
        for way in WAYS:
            row[way] = {k: metrics.finite_mean([x for e in have
                                                for x in e["ways"][way]["bins"][b][k]])
                        for k in metrics.METRICS}
        bins.append(row)
    frames = []
    for k in range(n_frames):
        have = [e for e in episodes if k < e["frames"] - 1]
        row = {"frame": k + 1, "t_s": round((k + 1) / fps, 3),
               "views": sum(len(e["cameras"]) for e in have)}
        for way in WAYS:
            row[way] = metrics.finite_mean([v[k] for e in have
                                            for v in e["ways"][way]["frame_psnr"]])
        frames.append(row)
    return bins, frames


def _notes(s: HorizonSettings) -> list[str]:
    return [
        "bin b = chunk b's window, frames b*stride .. (b+1)*stride (stride = the model's "
        "num_frames - 1); PSNR/SSIM/gripper PSNR over its new frames, ST-IoU over the motion "
        "from its first frame on (as vap-ros eval scores a clip); bin 0 is vap-ros eval's score "
        "of the clip starting at the plan's start",
        "re-anchored: chunk b is conditioned on the real frame b*stride, but the frame there "
        "is chunk b-1's prediction, so its bins' ST-IoU also sees the seam",
        "frame PSNR: frame k alone; aggregates leave out NaN (gripper out of view) and cap "
        f"PSNR at {metrics.UINT8_PSNR_CEILING_DB:.1f} dB",
        f"prompts: {s.source}; every rollout samples with seed {s.seed}",
    ]


def _jsonable(x):
    from vap_ros.train.evaluate import _jsonable as j

    return j(x)


def format_table(report: dict[str, Any]) -> str:
    """Plain-text table: one row per bin, PSNR and ST-IoU (and SSIM) of the three ways."""
    short = {"autoregressive": "AR", "re-anchored": "re-anch", "copy-first-frame": "copy"}
    header = ["t (s)", "n"] + [f"{m} {short[w]}" for m in ("PSNR", "SSIM", "ST-IoU")
                               for w in WAYS]
    rows = []
    for b in report["bins"]:
        row = [f"{b['t0_s']:.1f}-{b['t1_s']:.1f}", str(b["views"])]
        for key, d in (("psnr", 2), ("ssim", 3), ("st_iou", 3)):
            row += [_fmt(b[w][key], d) for w in WAYS]
        rows.append(row)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    c = report["counts"]
    lines.append(f"({c['scored']} episodes scored, n = views reaching the bin; {c['too_short']} "
                 f"with a plan shorter than {report['settings']['min_plan_s']:g} s, "
                 f"{c['failed']} failed to load, {c['not_read']} not read; model "
                 f"{report['model']}, {report['fps']:g} fps, bins of {report['bin_s']:.2f} s)")
    lines += [f"skipped {x['bag']}: {x['error']}" for x in report["skipped"]
              if x["reason"] == "failed"]
    return "\n".join(lines)


def _fmt(v: float, digits: int) -> str:
    return "n/a" if not math.isfinite(v) else f"{v:.{digits}f}"


# --- pictures -------------------------------------------------------------------------------

def _label_strip(labels: Sequence[str], width: int, col_w: int, gap: int, h: int = 18,
                 text: str = "") -> np.ndarray:
    import cv2

    strip = np.full((h, width, 3), 255, np.uint8)
    for i, name in enumerate(labels):
        cv2.putText(strip, name, (i * (col_w + gap) + 3, h - 5), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4, (0, 0, 0), 1, cv2.LINE_AA)
    if text:
        cv2.putText(strip, text, (width - 8 * len(text) - 4, h - 5), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4, (200, 0, 0), 1, cv2.LINE_AA)
    return strip


def write_videos(folder: Path, pv, preds: dict[str, np.ndarray], fps: float,
                 stride: int, prefix: str = "") -> list[str]:
    """Per view: ``<prefix><episode>_<camera>.mp4``/``.gif`` (real | autoregressive |
    re-anchored | prompt, 4x upscaled, a label strip with the time since the plan's start) and
    ``<prefix><episode>_<camera>_frames.png`` (the four at every chunk start and the last
    frame)."""
    import cv2

    from vap_ros.train.video import side_by_side, write_gif, write_mp4

    labels = ["real", "autoregressive", "re-anchored", "prompt"]
    V, L, H, W, _ = pv.video.shape
    scale = max(1, 256 // max(H, W))
    name = prefix + Path(pv.bag).name
    written = []
    for v in range(V):
        frames = side_by_side(pv.video[v], preds["autoregressive"][v], preds["re-anchored"][v],
                              pv.prompts[v], scale=scale)
        strips = [_label_strip(labels, frames.shape[2], W * scale, 2,
                               text=f"t={pv.t_s[k]:.1f}s") for k in range(L)]
        frames = np.concatenate([np.stack(strips), frames], axis=1)
        stem = folder / f"{name}_{pv.cameras[v]}"
        write_mp4(stem.with_suffix(".mp4"), frames, fps)
        write_gif(stem.with_suffix(".gif"), frames, fps)
        picks = sorted(set(range(0, L, stride)) | {L - 1})
        grid = np.concatenate([frames[k] for k in picks], axis=0)
        png = folder / f"{name}_{pv.cameras[v]}_frames.png"
        cv2.imwrite(str(png), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
        written += [str(stem.with_suffix(".mp4")), str(stem.with_suffix(".gif")), str(png)]
    return written


def plot_curves(report: dict[str, Any], path: str | Path) -> Path:
    """A PNG of the curve (OpenCV drawing): left, frame PSNR (dB) against seconds since the
    plan's start (lines) with the bin PSNR (dots); right, bin ST-IoU; one colour per way;
    chunk starts as grey lines."""
    bins, frames = report["bins"], report["frames"]
    series = [_series(w, COLORS[w], frames, bins, w) for w in WAYS]
    c = report["counts"]
    return _plot(series, bins, frames, f"{c['scored']} episodes, {report['model']}", path)


def _series(name: str, rgb: tuple[int, int, int], frames: list, bins: list, key: str,
            model: int | None = None) -> dict[str, Any]:
    """One curve of a plot: frame PSNR, bin PSNR and bin ST-IoU of way ``key`` (of model
    ``model`` in a comparison's rows)."""
    def get(row):
        return row[key] if model is None else row["models"][model][key]

    mids = [(b["t0_s"] + b["t1_s"]) / 2 for b in bins]
    return {"name": name, "color": rgb[::-1],  # BGR
            "frame_t": [f["t_s"] for f in frames], "frame_psnr": [get(f) for f in frames],
            "bin_t": mids, "bin_psnr": [get(b)["psnr"] for b in bins],
            "bin_st_iou": [get(b)["st_iou"] for b in bins]}


def _plot(series: list[dict], bins: list, frames: list, caption: str, path: str | Path) -> Path:
    import cv2

    panel_w, panel_h, m = 460, 300, (52, 16, 30, 40)  # margins: left, right, top, bottom
    img = np.full((panel_h + 60, 2 * panel_w, 3), 255, np.uint8)
    t_max = max(bins[-1]["t1_s"], frames[-1]["t_s"])
    panels = {
        "frame PSNR (dB), dots: bin PSNR": [("frame_t", "frame_psnr", "line"),
                                            ("bin_t", "bin_psnr", "dots")],
        "ST-IoU per bin": [("bin_t", "bin_st_iou", "line+dots")],
    }
    for p, (title, items) in enumerate(panels.items()):
        x0 = p * panel_w
        vals = [y for _, ky, _ in items for s in series for y in s[ky] if math.isfinite(y)]
        lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
        if "ST-IoU" in title:
            lo, hi = 0.0, max(hi, 0.1)
        pad = 0.05 * (hi - lo or 1.0)
        lo, hi = lo - pad, hi + pad
        left, top = x0 + m[0], m[2]
        right, bottom = x0 + panel_w - m[1], m[2] + panel_h - m[3]

        def px(t, y, _l=left, _r=right, _t=top, _b=bottom, _lo=lo, _hi=hi):
            return (int(round(_l + (_r - _l) * t / t_max)),
                    int(round(_b - (_b - _t) * (y - _lo) / (_hi - _lo))))

        for b in bins:  # chunk starts
            xb = px(b["t0_s"], lo)[0]
            cv2.line(img, (xb, top), (xb, bottom), (225, 225, 225), 1)
        cv2.rectangle(img, (left, top), (right, bottom), (0, 0, 0), 1)
        for k in range(5):  # y ticks
            y = lo + (hi - lo) * k / 4
            yy = px(0, y)[1]
            cv2.line(img, (left - 4, yy), (left, yy), (0, 0, 0), 1)
            cv2.putText(img, f"{y:.3g}", (x0 + 4, yy + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                        (0, 0, 0), 1, cv2.LINE_AA)
        step = 1.0 if t_max <= 12 else 2.0
        t = 0.0
        while t <= t_max + 1e-9:  # x ticks
            xx = px(t, lo)[0]
            cv2.line(img, (xx, bottom), (xx, bottom + 4), (0, 0, 0), 1)
            cv2.putText(img, f"{t:g}", (xx - 5, bottom + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.35,
                        (0, 0, 0), 1, cv2.LINE_AA)
            t += step
        cv2.putText(img, "seconds since the plan's start", (left + 100, bottom + 32),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(img, title, (left, top - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
        for kt, ky, kind in items:
            for s in series:
                pts = [px(t, y) for t, y in zip(s[kt], s[ky]) if math.isfinite(y)]
                if "line" in kind and len(pts) > 1:
                    cv2.polylines(img, [np.array(pts, np.int32)], False, s["color"], 2,
                                  cv2.LINE_AA)
                if "dots" in kind:
                    for q in pts:
                        cv2.circle(img, q, 4, s["color"], -1, cv2.LINE_AA)
    x = 60
    for s in series:  # legend
        cv2.line(img, (x, panel_h + 42), (x + 24, panel_h + 42), s["color"], 3)
        cv2.putText(img, s["name"], (x + 30, panel_h + 46), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (0, 0, 0), 1, cv2.LINE_AA)
        x += 60 + 9 * len(s["name"])
    cv2.putText(img, caption, (x + 10, panel_h + 46), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                (90, 90, 90), 1, cv2.LINE_AA)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)
    return path


# --- several models side by side ------------------------------------------------------------

#: autoregressive curve colours of the compared models, in order (RGB)
MODEL_COLORS = ((214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (23, 190, 207))


def compare_reports(reports: Sequence[dict[str, Any]], labels: Sequence[str] | None = None
                    ) -> dict[str, Any]:
    """Several models' ``horizon`` reports on the same episodes, side by side.

    Returns:
        ``{"models", "episodes", "bins", "frames", "summary", "paired"}``: per bin, each
        model's ``autoregressive`` and ``re-anchored`` means (``bins[b]["models"][i]``) and the
        model-free ``copy-first-frame``; per frame, each model's autoregressive PSNR; per model,
        a ``summary`` of its drift (over the bins from 1 on, where the autoregressive rollout
        runs on its own predictions: mean PSNR, last-bin PSNR, the mean gap to re-anchored);
        ``paired``: for each later model against the first, per bin, the share of (episode,
        view) pairs whose autoregressive PSNR is higher.
    Raises:
        ConfigError: fewer than two reports, or reports of different episodes, fps or bins.
    """
    if len(reports) < 2:
        raise ConfigError("a comparison needs at least two horizon reports")
    labels = list(labels or [r["model"] for r in reports])
    first = reports[0]
    bags = [e["bag"] for e in first["episodes"]]
    for r, name in zip(reports[1:], labels[1:]):
        if [e["bag"] for e in r["episodes"]] != bags:
            raise ConfigError(f"{name} was scored on other episodes than {labels[0]}: compare "
                              "reports of the same --episodes and settings")
        if (r["fps"], r["stride"]) != (first["fps"], first["stride"]):
            raise ConfigError(f"{name} has fps {r['fps']:g} / stride {r['stride']} but "
                              f"{labels[0]} {first['fps']:g} / {first['stride']}: their bins "
                              "differ (compare models of the same fps and clip length)")
    ways = WAYS[:2]
    bins = []
    for b, row in enumerate(first["bins"]):
        bins.append({**{k: row[k] for k in ("bin", "t0_s", "t1_s", "episodes", "views")},
                     "models": [{w: r["bins"][b][w] for w in ways} for r in reports],
                     "copy-first-frame": row["copy-first-frame"]})
    frames = [{**{k: f[k] for k in ("frame", "t_s", "views")},
               "models": [{"autoregressive": r["frames"][k]["autoregressive"]}
                          for r in reports],
               "copy-first-frame": f["copy-first-frame"]}
              for k, f in enumerate(first["frames"])]
    summary = []
    for i, name in enumerate(labels):
        later = [row["models"][i] for row in bins[1:]]
        ar = [m["autoregressive"]["psnr"] for m in later]
        gap = [m["re-anchored"]["psnr"] - m["autoregressive"]["psnr"] for m in later]
        summary.append({"model": name, "ar_psnr_bin0": bins[0]["models"][i]["autoregressive"]
                        ["psnr"], "ar_psnr_later": metrics.finite_mean(ar),
                        "ar_psnr_last": ar[-1] if ar else math.nan,
                        "ar_ssim_later": metrics.finite_mean(
                            [m["autoregressive"]["ssim"] for m in later]),
                        "gap_to_reanchored_later": metrics.finite_mean(gap)})
    paired = []
    for i in range(1, len(reports)):
        rows = []
        for b in range(len(bins)):
            a = _per_view(first, b)
            o = _per_view(reports[i], b)
            pairs = [(x, y) for x, y in zip(a, o) if math.isfinite(x) and math.isfinite(y)]
            rows.append({"bin": b, "pairs": len(pairs),
                         "higher": sum(y > x for x, y in pairs) / len(pairs) if pairs
                         else math.nan,
                         "mean_diff_db": metrics.finite_mean([y - x for x, y in pairs])})
        paired.append({"model": labels[i], "against": labels[0], "bins": rows})
    return {"models": labels, "episodes": bags, "fps": first["fps"], "stride": first["stride"],
            "bin_s": first["bin_s"], "bins": bins, "frames": frames, "summary": summary,
            "paired": paired}


def _per_view(report: dict[str, Any], b: int) -> list[float]:
    """Autoregressive PSNR of bin ``b`` of every (episode, view) that reaches it, in order."""
    return [x for e in report["episodes"] if b < len(e["ways"]["autoregressive"]["bins"])
            for x in e["ways"]["autoregressive"]["bins"][b]["psnr"]]


def format_comparison(comp: dict[str, Any]) -> str:
    """Plain-text table: per bin, each model's autoregressive PSNR / SSIM / ST-IoU and
    re-anchored PSNR, copy-first-frame PSNR; then the per-model drift summary."""
    names = [chr(ord("A") + i) for i in range(len(comp["models"]))]
    header = ["t (s)", "n"]
    for key in ("PSNR AR", "SSIM AR", "ST-IoU AR", "PSNR re-anch"):
        header += [f"{key} {n}" for n in names]
    header.append("PSNR copy")
    rows = []
    for b in comp["bins"]:
        row = [f"{b['t0_s']:.1f}-{b['t1_s']:.1f}", str(b["views"])]
        for way, key, d in (("autoregressive", "psnr", 2), ("autoregressive", "ssim", 3),
                            ("autoregressive", "st_iou", 3), ("re-anchored", "psnr", 2)):
            row += [_fmt(m[way][key], d) for m in b["models"]]
        row.append(_fmt(b["copy-first-frame"]["psnr"], 2))
        rows.append(row)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.append("")
    for n, s in zip(names, comp["summary"]):
        lines.append(f"{n} = {s['model']}: AR PSNR bin 0 {_fmt(s['ar_psnr_bin0'], 2)}, bins "
                     f">= 1 mean {_fmt(s['ar_psnr_later'], 2)} (SSIM "
                     f"{_fmt(s['ar_ssim_later'], 3)}), last bin {_fmt(s['ar_psnr_last'], 2)}; "
                     f"re-anchored - AR {_fmt(s['gap_to_reanchored_later'], 2)} dB")
    for p in comp["paired"]:
        i = comp["models"].index(p["model"])
        lines.append(f"{names[i]} vs A, AR PSNR per (episode, view): higher in "
                     + ", ".join(f"{_fmt(100 * r['higher'], 0)}%" for r in p["bins"])
                     + " of pairs per bin; mean difference "
                     + ", ".join(f"{r['mean_diff_db']:+.2f}" for r in p["bins"]) + " dB")
    lines.append(f"(bins of {comp['bin_s']:.2f} s, {len(comp['episodes'])} episodes; n = views "
                 "reaching the bin)")
    return "\n".join(lines)


def plot_comparison(comp: dict[str, Any], path: str | Path) -> Path:
    """The horizon PNG of several models: each model's autoregressive curve (frame PSNR,
    bin PSNR dots, bin ST-IoU) in its own colour, copy-first-frame in grey."""
    series = [_series(name, MODEL_COLORS[i % len(MODEL_COLORS)], comp["frames"],
                      comp["bins"], "autoregressive", model=i)
              for i, name in enumerate(_short_names(comp["models"]))]
    series.append(_series("copy-first-frame", COLORS["copy-first-frame"], comp["frames"],
                          comp["bins"], "copy-first-frame"))
    return _plot(series, comp["bins"], comp["frames"],
                 f"autoregressive, {len(comp['episodes'])} episodes", path)


def _short_names(labels: Sequence[str], width: int = 18) -> list[str]:
    """Legend names: the table's letter and the label's last two path parts, at most
    ``width`` characters."""
    out = []
    for i, label in enumerate(labels):
        tail = "/".join(Path(label).parts[-2:]) or label
        tail = tail if len(tail) <= width else "..." + tail[-(width - 3):]
        out.append(f"{chr(ord('A') + i)}: {tail}")
    return out
