"""Score the demo's rollouts against what really happened and write the side-by-side videos."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from vap_ros.robot import JointStateMapper, SkeletonSpec

__all__ = ["score_and_write"]

NS = 1_000_000_000
METRICS = ("psnr", "ssim", "gripper_psnr")  # of vap_ros.train.metrics.score (no ST-IoU)


def _nearest(records: list[tuple[int, np.ndarray]], t_ns: int) -> tuple[np.ndarray, int]:
    stamps = np.array([s for s, _ in records], np.int64)
    i = int(np.argmin(np.abs(stamps - t_ns)))
    return records[i][1], int(abs(stamps[i] - t_ns))


def _logged_trajectory(joint_states, robot):
    mapper = JointStateMapper.for_robot(robot, extra="ignore")
    stamps, qs, widths = [], [], []
    for stamp, names, pos in joint_states:
        q, w = mapper.map(names, pos)
        stamps.append(stamp)
        qs.append(q)
        widths.append(np.nan if w is None else w)
    return np.array(stamps, np.int64), np.array(qs), np.array(widths)


def _interp(stamps, values, t):
    return np.stack([np.interp(t, stamps, values[:, j]) for j in range(values.shape[1])], 1)


def _title(frames: np.ndarray, labels: list[str], tile_w: int, gap: int) -> np.ndarray:
    """Put a black title bar with one label per tile over the frames."""
    T, _, W, _ = frames.shape
    bar = np.zeros((T, 18, W, 3), np.uint8)
    for i, text in enumerate(labels):
        x = i * (tile_w + gap) + 4
        for t in range(T):
            cv2.putText(bar[t], text, (x, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42,
                        (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([bar, frames], axis=1)


def score_and_write(rec, settings, robot, cameras, plan, t_pub: float, fps: float,
                    out: Path, node_errors=(), plan_start_ns: int | None = None) -> dict:
    """Per camera and rollout: PSNR / SSIM / gripper-region PSNR of the prediction and of
    copy-first-frame against the real frames at the predicted frames' stamps. Rollouts that
    start while the plan runs (``plan_start_ns`` in joint-state time, + its duration) are also
    averaged on their own (``during_plan``): a rollout after the plan predicts a still scene,
    where copy-first-frame is exact and its capped PSNR outweighs every moving rollout. A
    camera with no scored rollout is listed in ``unscored`` with the reason (and the lookahead
    node's recent error lines about it)."""
    from vap_ros.data.messages import duration_ns, image_from_msg, stamp_ns
    from vap_ros.train.evaluate import COPY_FIRST_FRAME, predict_clip
    from vap_ros.train.interaction import region_mask
    from vap_ros.train.metrics import finite_mean, score
    from vap_ros.train.video import side_by_side, write_gif, write_mp4

    spec = SkeletonSpec.from_preset("panda")
    js_t, js_q, js_w = _logged_trajectory(rec.joint_states, robot)
    cams = {c.name: c for c in cameras}
    half_period = int(NS / settings.camera_hz / 2)
    per_cam: dict[str, dict] = {}
    unscored: dict[str, str] = {}
    latencies, first_arrivals = [], []
    for cam_name in settings.cameras:
        rows, video = [], []
        msgs = sorted((m for _, m in rec.rollouts if m.camera_name == cam_name),
                      key=lambda m: stamp_ns(m.header.stamp))
        for arrival, m in rec.rollouts:
            if m.camera_name == cam_name:
                first_arrivals.append(arrival - t_pub)
                break
        for m in msgs:
            t0 = stamp_ns(m.header.stamp)
            ts = [t0 + duration_ns(d) for d in m.frame_time_offsets]
            pairs = [_nearest(rec.images[cam_name], t) for t in ts]
            if max(g for _, g in pairs) > half_period:
                continue  # the recording ended before this rollout's last frame
            real = np.stack([p[0] for p in pairs])
            pred = np.stack([image_from_msg(f) for f in m.frames])
            prompt = np.stack([image_from_msg(f) for f in m.prompt_frames])
            H, W = pred.shape[1:3]
            if real.shape[1:3] != (H, W):
                real = np.stack([cv2.resize(r, (W, H), interpolation=cv2.INTER_AREA)
                                 for r in real])
            q = _interp(js_t, js_q, np.array(ts))
            w = np.interp(ts, js_t, np.nan_to_num(js_w, nan=0.08))
            kps = spec.keypoints(robot, q, w)[:, spec.gripper]
            cam = cams[cam_name].scaled(W, H)
            uv = cam.project(kps).uv
            region = region_mask(uv, H, W, radius_px=max(3.0, 0.08 * W), shape="disc").numpy()
            copy = predict_clip(COPY_FIRST_FRAME, {"video": real[None]})[0]
            scores = {label: score(real, v, region > 0.5, names=METRICS)
                      for label, v in (("model", pred), ("copy_first_frame", copy))}
            lat = m.inference_time.sec + m.inference_time.nanosec / NS
            latencies.append(lat)
            during = plan_start_ns is None or t0 < plan_start_ns + plan.duration_ns
            rows.append({"t_s": (t0 - js_t[0]) / NS, "inference_s": lat,
                         "during_plan": bool(during), **scores})
            video.append(side_by_side(pred, real, prompt, scale=settings.scale))
        if not rows:
            if msgs:
                unscored[cam_name] = (f"{len(msgs)} rollouts received, but the recording has no "
                                      "frame near their predicted frames' times")
            else:
                related = [e for e in node_errors if cam_name in e] or list(node_errors)[-3:]
                unscored[cam_name] = ("no rollout received"
                                      + (": " + " | ".join(related) if related else ""))
            continue
        agg = {label: {k: finite_mean([r[label][k] for r in rows]) for k in METRICS}
               for label in ("model", "copy_first_frame")}
        moving = [r for r in rows if r["during_plan"]]
        agg_plan = {label: {k: finite_mean([r[label][k] for r in moving]) for k in METRICS}
                    for label in ("model", "copy_first_frame")}
        per_cam[cam_name] = {"rollouts": len(rows), **agg, "during_plan": agg_plan,
                             "rollouts_during_plan": len(moving), "per_rollout": rows}
        frames = np.concatenate(video)
        tile_w = video[0].shape[2] // 3
        frames = _title(frames, ["predicted", "real", "prompt"], tile_w, 2)
        write_mp4(out / f"{cam_name}_side_by_side.mp4", frames, fps)
        write_gif(out / f"{cam_name}_side_by_side.gif", frames, fps)
        cv2.imwrite(str(out / f"{cam_name}_side_by_side_last.png"),
                    cv2.cvtColor(frames[-1], cv2.COLOR_RGB2BGR))
    mean = {label: {k: finite_mean([c[label][k] for c in per_cam.values()]) for k in METRICS}
            for label in ("model", "copy_first_frame")}
    during = {label: {k: finite_mean([c["during_plan"][label][k] for c in per_cam.values()])
                      for k in METRICS} for label in ("model", "copy_first_frame")}
    first = min(first_arrivals) if first_arrivals else math.nan
    return {
        "task": settings.task, "seed": settings.seed, "cameras": list(per_cam),
        "unscored": unscored,
        "plan_duration_s": plan.duration_ns / NS,
        "per_camera": per_cam, "mean": mean,
        "gain_psnr_db": mean["model"]["psnr"] - mean["copy_first_frame"]["psnr"],
        "during_plan": {"mean": during, "gain_psnr_db": during["model"]["psnr"]
                        - during["copy_first_frame"]["psnr"]},
        "latency": {"inference_s_mean": finite_mean(latencies),
                    "inference_s_max": max(latencies) if latencies else math.nan,
                    "plan_to_first_rollout_s": first,
                    "first_rollout_during_plan": bool(first < plan.duration_ns / NS)},
        "files": sorted(p.name for p in out.iterdir() if p.suffix in (".mp4", ".gif")),
    }
