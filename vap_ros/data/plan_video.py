"""A recorded plan as one long clip: the real video and its prompt video, frame by frame, from
the plan's start to its end (what ``vap-ros experiment horizon`` rolls a world model out over).

Everything is the dataset builder's: pass 1 (``read_recording``), the timeline at the clip
frame rate and its synchronisation (``plan_clips``), the images and the prompts
(``iter_clips`` / ``make_clip``: the same resizing and the same ``PromptRenderer`` call). Only
the clip differs: every timeline frame the plan spans instead of F-frame clips.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from vap_ros.data.bag import BagReader
from vap_ros.data.clips import iter_clips
from vap_ros.data.config import RigConfig, load_rig_config
from vap_ros.data.recording import Recording, read_recording
from vap_ros.data.sync import plan_clips
from vap_ros.errors import BagError, PlanTooShort, TrajectoryError

__all__ = ["PlanVideo", "longest_plan", "read_plan_video"]


@dataclass
class PlanVideo:
    """One plan of a bag at the clip frame rate (L frames, V cameras).

    Attributes:
        bag: the bag's path.
        cameras: camera names, view order.
        video: uint8 (V, L, H, W, 3) recorded images, frame 0 at the plan's start.
        prompts: uint8 (V, L, H, W, 3) prompt video of ``source`` at each image's stamp.
        actions: float32 (L, D) joint positions + gripper width of ``source`` (view 0's stamps).
        keypoints_uv: float32 (V, L, K, 2) the prompt's keypoints in pixels.
        stamps_ns: int64 (V, L) each image's header stamp.
        plan_start_ns / plan_end_ns: the plan's span (its end: its last point, or the start of
            the next plan if that comes first).
        fps: the frame rate of the timeline.
        source: "commanded" (the plan) or "logged" (the joint states).
    """

    bag: str
    cameras: list[str]
    video: np.ndarray
    prompts: np.ndarray
    actions: np.ndarray
    keypoints_uv: np.ndarray
    stamps_ns: np.ndarray
    plan_start_ns: int
    plan_end_ns: int
    fps: float
    source: str = "commanded"

    @property
    def plan_s(self) -> float:
        """How long the plan lasts, seconds."""
        return (self.plan_end_ns - self.plan_start_ns) * 1e-9

    @property
    def t_s(self) -> np.ndarray:
        """(L,) seconds since the plan's start of each frame (view 0's stamps)."""
        return (self.stamps_ns[0] - self.plan_start_ns) * 1e-9


def longest_plan(rec: Recording) -> tuple[int, int]:
    """(start, end) ns of the recording's longest recorded plan (the earliest of equals); a
    plan ends at its last point, where the next plan starts (it supersedes it) or at the
    reference camera's last image, whichever comes first.

    Raises:
        TrajectoryError: the recording has no plan.
    """
    if not rec.plans:
        where = rec.plan_topic or "any plan topic"
        raise TrajectoryError(f"bag {str(rec.path)!r} has no plan on {where} (a commanded "
                              "trajectory is needed)")
    stamps = rec.cameras[0].stamps_ns
    last_image = int(stamps.max()) if stamps.size else 0
    spans = []
    for k, p in enumerate(rec.plans):  # sorted by start (read_recording)
        start, end = int(p.stamps_ns[0]), min(int(p.stamps_ns[-1]), last_image)
        if k + 1 < len(rec.plans):
            end = min(end, int(rec.plans[k + 1].stamps_ns[0]))
        spans.append((end - start, -start, end))
    _, start, end = max(spans)
    return -start, end


def read_plan_video(bag: str | Path, config=None, *, fps: float, size: tuple[int, int],
                    min_plan_s: float = 0.0, source: str = "commanded",
                    calibration: str | Path | None = None,
                    prompt_type: str | None = None) -> PlanVideo:
    """The longest plan of ``bag`` as one clip at ``fps`` and ``size`` (H, W).

    The frames are the timeline frames (reference camera subsampled to ``fps``, every other
    camera's nearest image, as ``vap-ros dataset build`` makes them) whose stamps lie within
    the plan's span; frame 0 is the first at or after the plan's start.

    Args:
        config: rig config (preset name, YAML path, mapping or ``RigConfig``; default ``sim``);
            its clip settings are replaced by ``fps`` and ``size``.
        min_plan_s: refuse plans shorter than this before any image is decoded.
        source: prompts from the "commanded" plan or the "logged" joint states.
        prompt_type: the prompt type to render (a model's ``prompt_type``); None = the rig
            config's.

    Raises:
        PlanTooShort: the longest plan lasts less than ``min_plan_s``.
        TrajectoryError: the bag has no plan.
        BagError: a frame within the plan is unusable (no synchronised image or joint state,
            an image that does not decode), or the bag cannot be read.
        CalibrationError / JointStateError / ConfigError: as ``read_recording``.
    """
    from vap_ros.data.build import prompt_renderer

    if source not in ("commanded", "logged"):
        raise TrajectoryError(f"prompt source {source!r}: expected 'commanded' or 'logged'")
    cfg: RigConfig = load_rig_config(config)
    cfg = replace(cfg, clip=replace(cfg.clip, frames=2, stride=1, fps=float(fps),
                                    size=(int(size[0]), int(size[1]))),
                  prompt_source="commanded", store_both_prompts=True)
    renderer = prompt_renderer(cfg.robot, prompt_type or cfg.prompt_type)
    with BagReader(bag) as reader:
        rec = read_recording(reader, cfg, renderer.robot, calibration=calibration)
        start, end = longest_plan(rec)
        plan_s = (end - start) * 1e-9
        if plan_s < min_plan_s:
            raise PlanTooShort(f"bag {str(bag)!r}: its longest plan lasts {plan_s:.2f} s, "
                               f"shorter than {min_plan_s:g} s", duration_s=plan_s,
                               min_s=min_plan_s)
        timeline = plan_clips(rec, cfg)
        t_ref = timeline.frame_stamps[:, 0]
        idx = np.flatnonzero((t_ref >= start) & (t_ref <= end))
        if idx.size < 2:
            raise BagError(f"bag {str(bag)!r}: the plan ({plan_s:.2f} s) spans {idx.size} "
                           f"image(s) at {fps:g} fps: expected at least 2")
        bad = [i for i in idx.tolist() if not timeline.frame_ok[i]]
        if bad:
            raise BagError(f"bag {str(bag)!r}: {len(bad)} of the plan's {idx.size} frames are "
                           f"unusable, the first at {(t_ref[bad[0]] - start) * 1e-9:.2f} s: "
                           f"{timeline.frame_reason[bad[0]]}")
        gaps = np.diff(t_ref[idx])
        if gaps.max() > 1.5e9 / fps:
            k = int(np.argmax(gaps))
            raise BagError(f"bag {str(bag)!r}: no image for {gaps[k] * 1e-9:.2f} s after "
                           f"{(t_ref[idx[k]] - start) * 1e-9:.2f} s into the plan (expected one "
                           f"every {1 / fps:.2f} s)")
        one = replace(timeline, clips=idx[None].astype(np.int64))
        failures: Counter = Counter()
        clips = list(iter_clips(reader, rec, one, cfg, renderer, failures, background=False))
    if not clips:
        reason = failures.most_common(1)[0][0] if failures else "no image decoded"
        raise BagError(f"bag {str(bag)!r}: the plan's images could not be read: {reason}")
    clip = clips[0]
    if clip[f"prompts_{source}"] is None:
        raise TrajectoryError(f"bag {str(bag)!r}: no {source} prompts for the plan's frames")
    return PlanVideo(bag=str(bag), cameras=[c.name for c in rec.cameras], video=clip["video"],
                     prompts=clip[f"prompts_{source}"], actions=clip[f"actions_{source}"],
                     keypoints_uv=clip[f"keypoints_uv_{source}"], stamps_ns=clip["stamps_ns"],
                     plan_start_ns=start, plan_end_ns=end, fps=float(fps), source=source)
