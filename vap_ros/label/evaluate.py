"""How well the labeller recovers the end-effector trajectory of held-out episodes.

Every episode bag is labelled from its images and calibration alone (``label_bag``); the truth
is read from the same bag afterwards: the logged joint states at the labelled image stamps
through pinocchio FK (``RobotModel.tcp_poses``), and the gripper state of the logged finger
width (``data.gripper_open``). Scored per frame: position error (mm), rotation error (degrees,
the angle of R_pred^T R_true), gripper state accuracy. Two references on the same frames:

* **mean pose** (the trivial baseline): the mean training-set end-effector position, the
  rotation nearest the mean rotation matrix, and the majority gripper state;
* **codec floor**: the true poses encoded as action images and decoded again (what a perfect
  generator would score at this image size).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import cv2
import numpy as np

from vap_ros.errors import VapError
from vap_ros.label.data import gripper_open

__all__ = ["MeanPose", "errors", "evaluate_labelling", "format_table", "mean_pose",
           "truth_poses"]


class MeanPose:
    """The constant-pose baseline: ``T`` (4, 4) and ``open`` (bool)."""

    def __init__(self, T: np.ndarray, open_: bool, source: str = ""):
        self.T, self.open, self.source = np.asarray(T, np.float64), bool(open_), source


def mean_pose(cache: str | Path) -> MeanPose:
    """The mean logged end-effector pose and majority gripper state of a clip cache's clips.

    Raises:
        ConfigError / CacheError: not a readable clip cache.
    """
    from vap_ros.data import ClipDataset

    ds = ClipDataset(cache, source="logged")
    poses, widths = [], []
    for c in ds.clips:
        poses.append(np.asarray(ds._array(c["shard"], "ee_poses_logged")[c["row"]], np.float64))
        widths.append(np.asarray(ds._array(c["shard"], "actions_logged")[c["row"]][:, -1]))
    P = np.concatenate(poses)
    U, _, Vt = np.linalg.svd(P[:, :3, :3].mean(axis=0))
    T = np.eye(4)
    T[:3, :3] = U @ np.diag([1.0, 1.0, np.linalg.det(U @ Vt)]) @ Vt
    T[:3, 3] = P[:, :3, 3].mean(axis=0)
    return MeanPose(T, gripper_open(np.concatenate(widths)).mean() >= 0.5, str(cache))


def truth_poses(bag: str | Path, stamps_ns: np.ndarray, config=None
                ) -> tuple[np.ndarray, np.ndarray]:
    """(T_base_tcp (N, 4, 4), gripper open (N,)) from the bag's logged joint states at the
    stamps (FK).

    Raises:
        BagError / JointStateError / CalibrationError: as ``read_recording``.
    """
    from vap_ros.data.bag import BagReader
    from vap_ros.data.config import load_rig_config
    from vap_ros.data.recording import read_recording
    from vap_ros.robot import RobotModel

    cfg = load_rig_config(config)
    robot = RobotModel.from_preset(cfg.robot)
    with BagReader(bag) as reader:
        rec = read_recording(reader, cfg, robot)
    s = rec.logged.sample(np.asarray(stamps_ns, np.int64))
    return robot.tcp_poses(s.positions, s.gripper_width_m), gripper_open(s.gripper_width_m)


def errors(T_pred: np.ndarray, T_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: position error (m), rotation error (degrees)."""
    pos = np.linalg.norm(T_pred[..., :3, 3] - T_true[..., :3, 3], axis=-1)
    R = np.einsum("...ji,...jk->...ik", T_pred[..., :3, :3], T_true[..., :3, :3])
    cos = (np.trace(R, axis1=-2, axis2=-1) - 1.0) / 2.0
    return pos, np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _stats(pos_m, rot_deg, grip_ok, valid=None) -> dict[str, Any]:
    pos_mm = np.asarray(pos_m) * 1e3
    out = {"frames": int(pos_mm.size),
           "position_mm_median": round(float(np.median(pos_mm)), 2),
           "position_mm_p90": round(float(np.percentile(pos_mm, 90)), 2),
           "position_mm_mean": round(float(pos_mm.mean()), 2),
           "rotation_deg_median": round(float(np.median(rot_deg)), 2),
           "rotation_deg_p90": round(float(np.percentile(rot_deg, 90)), 2),
           "gripper_accuracy": round(float(np.mean(grip_ok)), 4)}
    if valid is not None:
        out["triangulated"] = round(float(np.mean(valid)), 4)
    return out


def evaluate_labelling(model, groups: Mapping[str, Sequence[str | Path]], baseline: MeanPose, *,
                       out: str | Path | None = None, steps: int | None = None, seed: int = 0,
                       videos: int = 1, config=None, progress: bool = True,
                       model_id: str = "", decoder: str = "robust",
                       smooth_frames: int = 1) -> dict[str, Any]:
    """Label every episode of every group and score it (see the module docstring).

    Args:
        groups: name (e.g. "fixed cameras") -> episode bags (or folders of bags).
        baseline: the mean-pose baseline (``mean_pose`` of the training cache).
        decoder, smooth_frames: how generated action images are decoded
            (``labeller.decode_labels``).
        out: writes ``labelling.json``, ``table.txt``, per-episode label JSONs
            (``labels/``) and for the first ``videos`` episodes of each group
            ``videos/<group>_<episode>.mp4`` + ``_frames.png`` + ``_xyz.png``.
    Returns:
        the report: per group the model's, the baseline's and the codec floor's statistics,
        per-episode values, skipped episodes with their reasons, seconds per episode.
    """
    from tqdm import tqdm

    from vap_ros.data.bag import bag_paths
    from vap_ros.label.data import action_codec
    from vap_ros.label.labeller import label_bag

    codec = action_codec(model.config)
    outp = Path(out) if out is not None else None
    report: dict[str, Any] = {"model": model_id, "steps": steps or model.config.steps,
                              "seed": seed, "decoder": decoder, "smooth_frames": smooth_frames,
                              "baseline": {"source": baseline.source,
                                                         "xyz_m": baseline.T[:3, 3].tolist(),
                                                         "open": baseline.open},
                              "groups": {}}
    for name, bags in groups.items():
        paths = bag_paths(list(bags))
        acc: dict[str, list] = {k: [] for k in ("pos", "rot", "grip", "valid", "b_pos", "b_rot",
                                                "b_grip", "c_pos", "c_rot", "c_grip")}
        episodes, skipped, seconds = [], [], []
        for k, bag in enumerate(tqdm(paths, desc=f"label {name}", unit="episode",
                                     disable=not progress)):
            t0 = time.perf_counter()
            try:
                lab_out = outp / "labels" / f"{_slug(name)}_{bag.name}.json" if outp else None
                _, labels, bv = label_bag(model, bag, out=lab_out, config=config, steps=steps,
                                          seed=seed, model_id=model_id, decoder=decoder,
                                          smooth_frames=smooth_frames)
                truth, t_open = truth_poses(bag, bv.stamps_ns, config)
            except VapError as err:
                skipped.append({"bag": str(bag), "error": f"{type(err).__name__}: {err}"})
                continue
            seconds.append(time.perf_counter() - t0)
            pos, rot = errors(labels.T_base_ee, truth)
            n = pos.size
            b_pos, b_rot = errors(np.broadcast_to(baseline.T, (n, 4, 4)), truth)
            floor = codec.decode(codec.encode(truth, t_open, bv.cameras), bv.cameras)
            c_ok = np.isfinite(floor.T_base_ee).all(axis=(1, 2))
            c_pos, c_rot = errors(floor.T_base_ee[c_ok], truth[c_ok])
            acc["pos"].append(pos)
            acc["rot"].append(rot)
            acc["grip"].append(labels.gripper_open == t_open)
            acc["valid"].append(labels.valid)
            acc["b_pos"].append(b_pos)
            acc["b_rot"].append(b_rot)
            acc["b_grip"].append(np.full(n, baseline.open) == t_open)
            acc["c_pos"].append(c_pos)
            acc["c_rot"].append(c_rot)
            acc["c_grip"].append(floor.gripper_open == t_open)
            episodes.append({"bag": str(bag), "frames": n, "seconds": round(seconds[-1], 2),
                             **{k: v for k, v in _stats(pos, rot, acc["grip"][-1],
                                                        labels.valid).items() if k != "frames"},
                             "baseline_position_mm_median":
                                 round(float(np.median(b_pos)) * 1e3, 2)})
            if outp is not None and k < videos:
                stem = outp / "videos" / f"{_slug(name)}_{bag.name}"
                write_side_by_side(stem, bv, labels, truth, t_open, codec, model.config.fps)
                plot_xyz(stem.with_name(stem.name + "_xyz.png"), bv.stamps_ns, labels, truth,
                         baseline, title=f"{name}: {bag.name}")
        g: dict[str, Any] = {"episodes": len(episodes), "skipped": skipped,
                             "seconds_per_episode": round(float(np.mean(seconds)), 2)
                             if seconds else None, "per_episode": episodes}
        if episodes:
            cat = {k: np.concatenate(v) for k, v in acc.items()}
            g["model"] = _stats(cat["pos"], cat["rot"], cat["grip"], cat["valid"])
            g["mean_pose"] = _stats(cat["b_pos"], cat["b_rot"], cat["b_grip"])
            g["codec_floor"] = _stats(cat["c_pos"], cat["c_rot"], cat["c_grip"])
        report["groups"][name] = g
    if outp is not None:
        outp.mkdir(parents=True, exist_ok=True)
        (outp / "labelling.json").write_text(json.dumps(report, indent=1))
        (outp / "table.txt").write_text(format_table(report) + "\n")
    return report


def format_table(report: dict[str, Any]) -> str:
    """A Markdown table: one row per (group, method)."""
    lines = ["| cameras | method | episodes / frames | position mm median | p90 | rotation deg "
             "median | p90 | gripper accuracy | triangulated |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, g in report["groups"].items():
        for key, label in (("model", "labeller"), ("mean_pose", "mean pose (baseline)"),
                           ("codec_floor", "codec floor (true action images)")):
            s = g.get(key)
            if s is None:
                continue
            lines.append(f"| {name} | {label} | {g['episodes']} / {s['frames']} | "
                         f"{s['position_mm_median']:.1f} | {s['position_mm_p90']:.1f} | "
                         f"{s['rotation_deg_median']:.1f} | {s['rotation_deg_p90']:.1f} | "
                         f"{s['gripper_accuracy']:.3f} | {s.get('triangulated', '')} |")
    return "\n".join(lines)


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name).strip("_")


def _overlay(frames: np.ndarray, acts: np.ndarray) -> np.ndarray:
    """Action images added onto frames (uint8, same shape)."""
    return np.clip(0.55 * frames.astype(np.float32) + acts.astype(np.float32), 0, 255
                   ).astype(np.uint8)


def _marks(img: np.ndarray, cam, xyz: np.ndarray, scale: int, color, cross: bool) -> None:
    uv = cam.project(xyz[None]).uv[0]
    if not np.all(np.isfinite(uv)):
        return
    p = (int(round((uv[0] + 0.5) * scale - 0.5)), int(round((uv[1] + 0.5) * scale - 0.5)))
    if cross:
        cv2.drawMarker(img, p, color, cv2.MARKER_CROSS, 3 * scale, 1)
    else:
        cv2.circle(img, p, 2 * scale, color, 1, cv2.LINE_AA)


def write_side_by_side(stem: Path, bv, labels, truth: np.ndarray, t_open: np.ndarray, codec,
                       fps: float, scale: int = 3) -> None:
    """``stem``.mp4 and ``stem``_frames.png: per view (rows) real frame with the true (green
    circle) and labelled (red cross) end effector | frame + generated action images | frame +
    true action images; the PNG holds 4 frames spread over the episode."""
    from vap_ros.train.video import side_by_side, write_mp4

    true_acts = codec.encode(truth, t_open, bv.cameras)
    rows = []
    for v, cam in enumerate(bv.cameras):
        real = np.repeat(np.repeat(bv.video[v], scale, 1), scale, 2).copy()
        for f in range(real.shape[0]):
            _marks(real[f], cam, truth[f, :3, 3], scale, (0, 255, 0), cross=False)
            _marks(real[f], cam, labels.T_base_ee[f, :3, 3], scale, (255, 0, 0), cross=True)
        gen = _overlay(bv.video[v], labels.action_images[v])
        tru = _overlay(bv.video[v], true_acts[v])
        rows.append(side_by_side(real, np.repeat(np.repeat(gen, scale, 1), scale, 2),
                                 np.repeat(np.repeat(tru, scale, 1), scale, 2), gap=2))
    gap = np.full((rows[0].shape[0], 2, rows[0].shape[2], 3), 255, np.uint8)
    video = np.concatenate([x for r in rows for x in (r, gap)][:-1], axis=1)
    n = video.shape[0]
    head = np.full((n, 16, video.shape[2], 3), 255, np.uint8)
    for f in range(n):
        cv2.putText(head[f], f"t={f / fps:4.1f}s  real+marks (green true, red labelled) | "
                    "generated action images | true", (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.33,
                    (0, 0, 0), 1, cv2.LINE_AA)
    video = np.concatenate([head, video], axis=1)
    stem.parent.mkdir(parents=True, exist_ok=True)
    write_mp4(stem.with_suffix(".mp4"), video, fps)
    pick = np.unique(np.linspace(0, n - 1, 4).round().astype(int))
    sep = np.full((video.shape[1], 4, 3), 255, np.uint8)
    grid = np.concatenate([x for f in pick for x in (video[f], sep)][:-1], axis=1)
    cv2.imwrite(str(stem.with_name(stem.name + "_frames.png")),
                cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))


def plot_xyz(path: Path, stamps_ns: np.ndarray, labels, truth: np.ndarray, baseline: MeanPose,
             title: str = "") -> None:
    """x, y, z (m) against time: truth (black), labelled (red; faded where filled), mean pose
    (grey); one panel per axis, drawn with OpenCV."""
    t = (np.asarray(stamps_ns, np.int64) - int(stamps_ns[0])) * 1e-9
    W, Hp, left, top = 640, 150, 52, 24
    img = np.full((top + 3 * Hp + 24, W, 3), 255, np.uint8)
    tmax = max(float(t[-1]), 1e-6)
    for k, axis in enumerate("xyz"):
        y0 = top + k * Hp
        series = [truth[:, k, 3], labels.T_base_ee[:, k, 3]]
        lo = min(float(min(s.min() for s in series)), baseline.T[k, 3]) - 0.02
        hi = max(float(max(s.max() for s in series)), baseline.T[k, 3]) + 0.02

        def px(tt, yy, _y0=y0, _lo=lo, _hi=hi):
            return (int(left + (W - left - 10) * tt / tmax),
                    int(_y0 + Hp - 16 - (Hp - 28) * (yy - _lo) / (_hi - _lo)))

        cv2.rectangle(img, (left, y0 + 8), (W - 10, y0 + Hp - 16), (200, 200, 200), 1)
        cv2.putText(img, f"{axis} (m)", (4, y0 + Hp // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (0, 0, 0), 1, cv2.LINE_AA)
        for yy in (lo + 0.02, hi - 0.02):
            cv2.putText(img, f"{yy:.2f}", (4, px(0, yy)[1] + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.3,
                        (90, 90, 90), 1, cv2.LINE_AA)
        cv2.line(img, px(0, baseline.T[k, 3]), px(tmax, baseline.T[k, 3]), (170, 170, 170), 1)
        for s, color in ((truth[:, k, 3], (0, 0, 0)), (labels.T_base_ee[:, k, 3], (0, 0, 220))):
            pts = np.array([px(a, b) for a, b in zip(t, s)], np.int32)
            cv2.polylines(img, [pts], False, color, 1, cv2.LINE_AA)
        for f in np.flatnonzero(labels.valid):
            cv2.circle(img, px(t[f], labels.T_base_ee[f, k, 3]), 2, (0, 0, 220), -1)
    cv2.putText(img, f"{title}  black: logged FK, red: labelled (dots: triangulated), grey: "
                "mean pose; s", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1,
                cv2.LINE_AA)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)
