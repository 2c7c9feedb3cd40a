"""Time synchronisation and clip planning, from stamps alone (before any pixel is decoded).

The first camera is the reference: its images are subsampled to the target fps and form the
clip timeline. Every other camera contributes its image nearest in time; joint states are
interpolated at each image's own stamp. A timeline frame is usable when every view has an image
within ``max_camera_gap_ms`` and joint states within ``max_joint_gap_ms`` around each image;
runs of consecutive usable frames are cut into clips of F frames every ``stride`` frames.
Every reference image ends up counted: used, subsampled away, or skipped with a reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from vap_ros.data.config import RigConfig
from vap_ros.data.recording import Recording

__all__ = ["ClipPlan", "plan_clips", "subsample"]


@dataclass
class ClipPlan:
    """Which images make which clips.

    Attributes:
        frame_index: (N, V) int64 index of each timeline frame's image on each camera's topic
            (-1 = none).
        frame_stamps: (N, V) int64 header stamps of those images.
        frame_ok: (N,) usable frames; ``frame_reason`` the reason for each unusable one.
        commanded_ok: (N,) a commanded plan covers the frame (every view's stamp).
        clips: (C, F) timeline indices of each clip's frames.
        camera_gap_ns: (N, V) |stamp - reference stamp|; joint_gap_ns: (N, V) distance of each
            image to its nearest joint state.
        subsampled: reference images dropped to reach the target fps.
        unreadable: reference images whose header could not be read.
    """

    frame_index: np.ndarray
    frame_stamps: np.ndarray
    frame_ok: np.ndarray
    frame_reason: list[str | None]
    commanded_ok: np.ndarray
    clips: np.ndarray
    camera_gap_ns: np.ndarray
    joint_gap_ns: np.ndarray
    subsampled: int = 0
    unreadable: int = 0
    skipped: Counter = field(default_factory=Counter)

    @property
    def frames_in_clips(self) -> np.ndarray:
        return np.unique(self.clips) if self.clips.size else np.zeros(0, np.int64)


def subsample(stamps_ns: np.ndarray, fps: float) -> np.ndarray:
    """Indices of stamps kept at ``fps``: an image is kept when at least 0.7 of the target
    period has passed since the last kept one (tolerates jitter, never drifts ahead)."""
    period = 1e9 / fps
    keep = []
    last = None
    for i, s in enumerate(stamps_ns.tolist()):
        if s < 0:
            continue
        if last is None or s - last >= 0.7 * period:
            keep.append(i)
            last = s if last is None or s - last > 1.3 * period else last + period
    return np.asarray(keep, np.int64)


def _nearest(sorted_stamps: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest stamp and the absolute gap (ns) for each query."""
    if sorted_stamps.size == 0:
        return np.full(query.shape, -1, np.int64), np.full(query.shape, np.iinfo(np.int64).max)
    j = np.searchsorted(sorted_stamps, query)
    lo = np.clip(j - 1, 0, sorted_stamps.size - 1)
    hi = np.clip(j, 0, sorted_stamps.size - 1)
    g_lo = np.abs(query - sorted_stamps[lo])
    g_hi = np.abs(sorted_stamps[hi] - query)
    pick = np.where(g_hi < g_lo, hi, lo)
    return pick, np.minimum(g_lo, g_hi)


def _joint_gap(js: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Largest distance from each query to the joint states it is interpolated between
    (inf outside the joint states' time range: no extrapolation)."""
    j = np.searchsorted(js, query)
    inside = (query >= js[0]) & (query <= js[-1])
    lo = np.clip(j - 1, 0, js.size - 1)
    hi = np.clip(j, 0, js.size - 1)
    exact = js[hi] == query
    gap = np.where(exact, 0, np.maximum(query - js[lo], js[hi] - query))
    return np.where(inside, gap, np.iinfo(np.int64).max)


def plan_clips(rec: Recording, cfg: RigConfig) -> ClipPlan:
    """Plan the clips of a recording (see the module docstring)."""
    F, stride, fps = cfg.clip.frames, cfg.clip.stride, cfg.clip.fps
    max_cam = int(cfg.sync.max_camera_gap_ms * 1e6)
    max_js = int(cfg.sync.max_joint_gap_ms * 1e6)
    ref = rec.cameras[0]
    V = len(rec.cameras)
    keep = subsample(ref.stamps_ns, fps)
    unreadable = int((ref.stamps_ns < 0).sum())
    subsampled = int(ref.stamps_ns.size - unreadable - keep.size)
    N = keep.size
    t_ref = ref.stamps_ns[keep]
    index = np.full((N, V), -1, np.int64)
    stamps = np.full((N, V), -1, np.int64)
    cam_gap = np.zeros((N, V), np.int64)
    index[:, 0], stamps[:, 0] = keep, t_ref
    for v, cam in enumerate(rec.cameras[1:], start=1):
        valid = np.flatnonzero(cam.stamps_ns >= 0)
        st = cam.stamps_ns[valid]
        order = np.argsort(st, kind="stable")
        pick, gap = _nearest(st[order], t_ref)
        ok = pick >= 0
        index[ok, v] = valid[order[pick[ok]]]
        stamps[ok, v] = cam.stamps_ns[index[ok, v]]
        cam_gap[:, v] = gap
    js = rec.logged.stamps_ns
    joint_gap = np.stack([_joint_gap(js, stamps[:, v]) if N else np.zeros(0, np.int64)
                          for v in range(V)], axis=1).reshape(N, V)
    reason: list[str | None] = [None] * N
    for i in range(N):
        for v, cam in enumerate(rec.cameras):
            if v and (index[i, v] < 0 or cam_gap[i, v] > max_cam):
                reason[i] = (f"no {cam.name} image within {cfg.sync.max_camera_gap_ms:g} ms of "
                             f"the {ref.name} image")
                break
            if joint_gap[i, v] > max_js:
                reason[i] = (f"no joint states within {cfg.sync.max_joint_gap_ms:g} ms around "
                             f"the image (recording gap or outside the joint states' time span)")
                break
    cmd_ok = np.ones(N, bool)
    for v in range(V):
        cmd_ok &= rec.commanded(stamps[:, v])[2] if N else cmd_ok
    if cfg.prompt_source == "commanded":
        for i in range(N):
            if reason[i] is None and not cmd_ok[i]:
                reason[i] = "no commanded plan covers the frame (prompt_source: commanded)"
    ok = np.array([r is None for r in reason], bool)
    # runs of consecutive usable frames (a gap > 1.5 periods breaks a run)
    clips = []
    period = 1e9 / fps
    i = 0
    while i < N:
        if not ok[i]:
            i += 1
            continue
        j = i
        while j + 1 < N and ok[j + 1] and t_ref[j + 1] - t_ref[j] <= 1.5 * period:
            j += 1
        for s in range(i, j + 2 - F, stride):
            clips.append(np.arange(s, s + F))
        i = j + 1
    clips_arr = np.asarray(clips, np.int64).reshape(-1, F)
    used = np.zeros(N, bool)
    used[clips_arr.reshape(-1)] = True
    skipped: Counter = Counter()
    for i in range(N):
        if reason[i] is not None:
            skipped[reason[i]] += 1
        elif not used[i]:
            skipped[_unused_reason(i, ok, t_ref, used, F, period)] += 1
    if unreadable:
        skipped["unreadable image header"] += unreadable
    return ClipPlan(index, stamps, ok, reason, cmd_ok, clips_arr, cam_gap, joint_gap,
                    subsampled, unreadable, skipped)


def _unused_reason(i, ok, t_ref, used, F, period) -> str:
    # find the run containing i
    a = i
    while a > 0 and ok[a - 1] and t_ref[a] - t_ref[a - 1] <= 1.5 * period:
        a -= 1
    b = i
    while b + 1 < len(ok) and ok[b + 1] and t_ref[b + 1] - t_ref[b] <= 1.5 * period:
        b += 1
    if b - a + 1 < F:
        return f"run of {b - a + 1} consecutive usable frames is shorter than a clip ({F})"
    if used[a:i].any() and used[i:b + 1].any():
        return "between clips (stride > frames)"
    return "tail of a run (fewer than F frames left after the last clip)"
