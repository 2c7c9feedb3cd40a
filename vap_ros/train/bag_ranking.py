"""Plan ranking on a recorded scene: a bag's images at one moment, given candidate plans (JSON)
and a goal image per camera (``vap-ros rank --bag``).

The scene is read with the dataset builder's bag reading (``read_recording``: cameras, their
calibration from camera_info + TF or a calibration YAML, the logged joint states): each
camera's newest image at or before ``at_s`` (seconds from the first image of the chosen
cameras; default: the newest moment every camera has an image) and the joint state at the
newest of those images. The plans and goal images go to ``vap_ros.serve.ranking.rank_plans``
as the lookahead node's ``RankPlans`` action passes them.

Plans file (JSON)::

    {"joint_names": ["panda_joint1", ..., "panda_joint7"],
     "plans": [{"name": "left",
                "points": [{"t": 0.0, "positions": [7 floats]},
                           {"t": 1.5, "positions": [...], "gripper_width_m": 0.02}]},
               ...]}

``t``: seconds from now (the scene's images), >= 0 and strictly increasing; ``positions``:
radians in ``joint_names``' order (a plan may carry its own ``joint_names``); the names must be
the robot's arm joints (any order); ``gripper_width_m`` (metres) on every point of a plan or
on none (then the bag's current width is drawn). A plan whose first point is after 0 starts
from the bag's joint state (prepended at t = 0). Every plan is validated as a topic plan is
(``JointTrajectory.validate``: names, times, joint limits).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from vap_ros.camera import Camera
from vap_ros.errors import BagError, ConfigError, ImageError, VapError
from vap_ros.robot import JointTrajectory
from vap_ros.serve.ranking import METRICS, RankResult, rank_plans

__all__ = ["BagRanking", "BagScene", "format_bag_ranking", "load_goal_images", "load_plans",
           "parse_goal_args", "rank_bag_scene", "read_bag_scene",
           "write_bag_candidates_png"]


@dataclass
class BagScene:
    """One moment of a bag.

    Attributes:
        bag: the bag path. names: camera names, view order.
        cameras: calibrations at the images' native size.
        images: RGB uint8 (H, W, 3) per camera, native size.
        stamps_ns: each image's stamp; start_ns: the first image's stamp (``at_s`` = 0).
        at_s: the requested moment, seconds from ``start_ns``.
        q: (n,) logged arm positions (robot order) at the newest image; width_m: gripper width
            (None: none logged).
        joint_names: the robot's arm joints.
    """

    bag: str
    names: list[str]
    cameras: list[Camera]
    images: list[np.ndarray]
    stamps_ns: list[int]
    start_ns: int
    at_s: float
    q: np.ndarray
    width_m: float | None
    joint_names: tuple[str, ...] = field(default=())


def read_bag_scene(bag: str | Path, *, at_s: float | None = None,
                   cameras: Sequence[str] | None = None, config=None,
                   calibration: str | Path | None = None) -> BagScene:
    """The scene of ``bag`` at ``at_s`` (module docstring).

    Args:
        cameras: camera names (default: every camera of the bag).
        config: rig config (preset name, YAML path, mapping; default ``sim``): topics, sync.
        calibration: calibration YAML overriding the bag's camera_info/TF.

    Raises:
        ConfigError: an unknown camera, a negative ``at_s``. BagError: no image at or before
            ``at_s`` on a camera, no joint state near it, an image that does not decode.
        CalibrationError / JointStateError: as ``read_recording``.
    """
    from vap_ros.data.bag import BagReader
    from vap_ros.data.clips import _decode
    from vap_ros.data.config import load_rig_config
    from vap_ros.data.recording import read_recording
    from vap_ros.data.sync import _joint_gap
    from vap_ros.robot import RobotModel

    if at_s is not None and not (np.isfinite(at_s) and at_s >= 0):
        raise ConfigError(f"--at {at_s}: expected seconds >= 0 from the bag's first image",
                          key="at", value=at_s)
    cfg = load_rig_config(config)
    robot = RobotModel.from_preset(cfg.robot)
    with BagReader(bag) as reader:
        rec = read_recording(reader, cfg, robot, calibration=calibration)
        by_name = {c.name: c for c in rec.cameras}
        names = list(cameras) if cameras else [c.name for c in rec.cameras]
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise ConfigError(f"bag {str(bag)!r} has no camera {unknown[0]!r}; its cameras: "
                              f"{sorted(by_name)}")
        chosen = [by_name[n] for n in names]
        valid = [c.stamps_ns[c.stamps_ns >= 0] for c in chosen]
        for c, v in zip(chosen, valid):
            if not v.size:
                raise BagError(f"bag {str(bag)!r}: no images on camera {c.name!r} ({c.topic})")
        start = int(min(int(v.min()) for v in valid))
        target = (int(min(int(v.max()) for v in valid)) if at_s is None
                  else start + int(round(float(at_s) * 1e9)))
        index: dict[str, int] = {}
        for c in chosen:
            ok = np.flatnonzero((c.stamps_ns >= 0) & (c.stamps_ns <= target))
            if not ok.size:
                first = (int(c.stamps_ns[c.stamps_ns >= 0].min()) - start) * 1e-9
                raise BagError(f"bag {str(bag)!r}: camera {c.name!r} has no image at or before "
                               f"{(target - start) * 1e-9:.3f} s (its first is at {first:.3f} s)")
            index[c.topic] = int(ok[np.argmax(c.stamps_ns[ok])])
        images: dict[str, np.ndarray] = {}
        only = {c.topic: {index[c.topic]} for c in chosen}
        for topic, i, _, raw in reader.read(list(only), only=only):
            if i != index[topic] or topic in images:
                continue
            c = next(s for s in chosen if s.topic == topic)
            try:
                images[topic] = _decode(reader, raw, c.msgtype, topic, c.calibrated())
            except Exception as err:  # ImageError, or a corrupt message (rosbags errors)
                raise BagError(f"bag {str(bag)!r}: image {i} on {topic} does not decode: "
                               f"{err}") from err
        missing = [c.name for c in chosen if c.topic not in images]
        if missing:
            raise BagError(f"bag {str(bag)!r}: the image of camera {missing[0]!r} never arrived")
    stamps = [int(c.stamps_ns[index[c.topic]]) for c in chosen]
    t_ref = max(stamps)
    max_js = int(cfg.sync.max_joint_gap_ms * 1e6)
    if not rec.logged.stamps_ns.size or _joint_gap(rec.logged.stamps_ns,
                                                   np.array([t_ref]))[0] > max_js:
        raise BagError(f"bag {str(bag)!r}: no joint state within {cfg.sync.max_joint_gap_ms:g} "
                       f"ms of the images at {(t_ref - start) * 1e-9:.3f} s")
    s = rec.logged.sample([t_ref])
    width = None if s.gripper_width_m is None or not np.isfinite(s.gripper_width_m[0]) \
        else float(s.gripper_width_m[0])
    return BagScene(str(bag), names, [c.calibrated() for c in chosen],
                    [images[c.topic] for c in chosen], stamps, start,
                    (target - start) * 1e-9, s.positions[0].copy(), width,
                    tuple(robot.arm_joint_names))


def load_plans(plans: str | Path | Mapping[str, Any], robot, *,
               start_q: np.ndarray | None = None, start_width_m: float | None = None
               ) -> tuple[list[str], list[JointTrajectory]]:
    """(names, validated plans in the robot's arm order, stamps from 0) of a plans file or its
    parsed JSON (module docstring). ``start_q``/``start_width_m``: the current state prepended
    at t = 0 to a plan that starts later.

    Raises:
        ConfigError: an unreadable file, a malformed document, or a plan that does not
            validate; a plan's error names its index (``plans[i]``).
    """
    src = "plans"
    if isinstance(plans, (str, Path)):
        src = str(plans)
        try:
            doc = json.loads(Path(plans).read_text())
        except OSError as err:
            raise ConfigError(f"plans file {src!r}: {err}") from err
        except json.JSONDecodeError as err:
            raise ConfigError(f"plans file {src!r} is not JSON: {err}") from err
    else:
        doc = plans
    if not isinstance(doc, Mapping) or not isinstance(doc.get("plans"), list) \
            or not doc["plans"]:
        raise ConfigError(f"{src}: expected {{\"joint_names\": [...], \"plans\": [{{\"name\": "
                          "..., \"points\": [{\"t\": s, \"positions\": [...]}, ...]}, ...]} "
                          "with at least one plan")
    names_out, out = [], []
    for i, p in enumerate(doc["plans"]):
        name = p.get("name", f"plan {i}") if isinstance(p, Mapping) else f"plan {i}"
        try:
            out.append(_plan(p, doc.get("joint_names"), robot, start_q, start_width_m))
        except (VapError, TypeError, ValueError, KeyError) as err:
            msg = f"missing key {err}" if isinstance(err, KeyError) else str(err)
            raise ConfigError(f"{src}: plans[{i}] ({name!r}): {msg}") from err
        names_out.append(str(name))
    return names_out, out


def _plan(p, joint_names, robot, start_q, start_width_m) -> JointTrajectory:
    if not isinstance(p, Mapping):
        raise ValueError(f"expected an object with \"points\", got {type(p).__name__}")
    names = p.get("joint_names", joint_names)
    if not names:
        raise ValueError("no joint_names (top-level or per plan)")
    points = p["points"]
    if not isinstance(points, list) or not points:
        raise ValueError("\"points\" must be a non-empty list")
    t = np.array([float(x["t"]) for x in points])
    q = np.array([[float(v) for v in x["positions"]] for x in points])
    widths = [x.get("gripper_width_m") for x in points]
    if any(w is not None for w in widths) and any(w is None for w in widths):
        raise ValueError("gripper_width_m on some points only (give it on every point or none)")
    w = None if widths[0] is None else np.array([float(x) for x in widths])
    if not np.all(np.isfinite(t)) or t[0] < 0:
        raise ValueError(f"point 0: t = {t[0]}: expected seconds >= 0 (0 = now)")
    traj = JointTrajectory(tuple(str(n) for n in names), q,
                           np.round(t * 1e9).astype(np.int64), w).validate(robot)
    if traj.stamps_ns[0] > 0 and start_q is not None:
        pos = np.concatenate([np.asarray(start_q, np.float64)[None], traj.positions])
        gw = traj.gripper_width_m
        if gw is not None:
            gw = np.concatenate([[gw[0] if start_width_m is None else start_width_m], gw])
        traj = JointTrajectory(traj.joint_names, pos,
                               np.concatenate([[0], traj.stamps_ns]), gw).validate(robot)
    return traj


def parse_goal_args(specs: Sequence[str]) -> dict[str, str]:
    """``["CAM=PATH", ...]`` -> {camera: path}.

    Raises:
        ConfigError: a spec without ``=``, a camera given twice.
    """
    goals: dict[str, str] = {}
    for s in specs:
        cam, sep, path = s.partition("=")
        if not sep or not cam or not path:
            raise ConfigError(f"--goal {s!r}: expected CAMERA=IMAGE.png", key="goal", value=s)
        if cam in goals:
            raise ConfigError(f"--goal: camera {cam!r} given twice", key="goal", value=s)
        goals[cam] = path
    return goals


def load_goal_images(goals: Mapping[str, str | Path], scene: BagScene) -> list[np.ndarray]:
    """The goal image (RGB) of every scene camera, in view order, each the size of the camera's
    image.

    Raises:
        ConfigError: a camera without a goal, a goal for a camera not in the scene.
        ImageError: an unreadable image, a size that is not the camera's.
    """
    import cv2

    extra = [c for c in goals if c not in scene.names]
    if extra:
        raise ConfigError(f"goal for camera {extra[0]!r}, which is not ranked; cameras: "
                          f"{scene.names}")
    out = []
    for name, img in zip(scene.names, scene.images):
        if name not in goals:
            raise ConfigError(f"camera {name!r} has no goal image (give --goal {name}=IMAGE.png"
                              " for every camera, or leave it out with --camera)")
        bgr = cv2.imread(str(goals[name]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ImageError(f"goal image {str(goals[name])!r} of camera {name!r} cannot be "
                             "read (expected a PNG/JPEG file)")
        if bgr.shape[:2] != img.shape[:2]:
            raise ImageError(f"goal image {str(goals[name])!r} is {bgr.shape[1]}x"
                             f"{bgr.shape[0]}, camera {name!r}'s images are {img.shape[1]}x"
                             f"{img.shape[0]}")
        out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return out


@dataclass
class BagRanking:
    """The JSON ``entry`` and the ``RankResult`` (frames for the picture)."""

    entry: dict[str, Any]
    result: RankResult


def rank_bag_scene(model, scene: BagScene, plan_names: Sequence[str],
                   plans: Sequence[JointTrajectory], goal: Sequence[np.ndarray], *,
                   steps: int | None = None, seed: int = 0, metric: str = "region",
                   settle_s: float = 0.2, renderer=None, progress: bool = False) -> BagRanking:
    """Rank ``plans`` on ``scene`` against ``goal`` (``rank_plans``) and describe the result.

    Raises:
        ModelError / ImageError: as ``rank_plans``.
    """
    t0 = time.perf_counter()
    res = rank_plans(model, scene.images, scene.cameras, plans, goal, renderer=renderer,
                     settle_s=settle_s, steps=steps, seed=seed, metric=metric,
                     progress=progress, current_width_m=scene.width_m)
    fps = float(model.config.fps)
    rows = []
    for k, (name, p) in enumerate(zip(plan_names, plans)):
        rows.append({
            "id": k, "name": name, "duration_s": round(int(p.stamps_ns[-1]) * 1e-9, 3),
            "start_offset_rad": round(float(np.abs(p.positions[0] - scene.q).max()), 4),
            "score": round(float(res.scores[metric][k]), 4),
            "scores": {m: round(float(res.scores[m][k]), 4) for m in METRICS}})
    entry: dict[str, Any] = {
        "bag": scene.bag, "at_s": round(scene.at_s, 4), "cameras": scene.names,
        "image_times_s": [round((s - scene.start_ns) * 1e-9, 4) for s in scene.stamps_ns],
        "joint_state": {"joint_names": list(scene.joint_names),
                        "positions": [round(float(x), 6) for x in scene.q],
                        "gripper_width_m": scene.width_m},
        "frames": res.frames, "rollout_s": round((res.frames - 1) / fps, 3), "metric": metric,
        "settings": {"steps": steps or int(getattr(model.config, "steps", 0) or 0),
                     "seed": int(seed), "metric": metric, "settle_s": float(settle_s)},
        "plans": rows, "ranking": list(res.ranking),
        "ranking_names": [plan_names[i] for i in res.ranking],
        "predict_seconds": round(res.seconds, 2),
        "seconds": round(time.perf_counter() - t0, 2)}
    return BagRanking(entry, res)


def format_bag_ranking(entry: dict[str, Any]) -> str:
    """A plain-text table: plans in predicted order."""
    lines = [f"bag {entry['bag']} at {entry['at_s']:.2f} s, cameras {entry['cameras']}, "
             f"{len(entry['plans'])} plans, rollout {entry['rollout_s']:.1f} s "
             f"({entry['frames']} frames), score: {entry['metric']} PSNR dB vs goal",
             "rank  id  score     psnr      duration  name",
             "----  --  --------  --------  --------  ----"]
    for r, i in enumerate(entry["ranking"]):
        p = entry["plans"][i]
        lines.append(f"{r + 1:<4}  {i:<2}  {p['score']:<8.2f}  {p['scores']['psnr']:<8.2f}  "
                     f"{p['duration_s']:<8.2f}  {p['name']}")
    return "\n".join(lines)


def write_bag_candidates_png(br: BagRanking, path: str | Path, scale: int = 3) -> Path:
    """The first frames and the goal on top, then one row per plan in predicted order: its
    predicted final frame per camera, labelled with rank, name and score."""
    import cv2

    from vap_ros.train.ranking import _text

    res, entry = br.result, br.entry
    _, V, H, W, _ = res.final_frames.shape
    h, w, gap, label_w = H * scale, W * scale, 4, 210

    def up(img):
        return np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)

    width = label_w + 2 * V * (w + gap)
    header = np.full((18, width, 3), 255, np.uint8)
    for v, name in enumerate(entry["cameras"]):
        x = label_w + 2 * v * (w + gap)
        _text(header, f"{name}: first | predicted", (x + 2, 13))
        _text(header, "goal", (x + w + gap + 2, 13))
    top = np.full((h + gap, width, 3), 255, np.uint8)
    _text(top, "first frame | goal", (4, 20))
    rows = [header, top]
    for v in range(V):
        x = label_w + 2 * v * (w + gap)
        top[:h, x:x + w] = up(res.first_frames[v])
        top[:h, x + w + gap:x + 2 * w + gap] = up(res.goal[v])
    for r, i in enumerate(entry["ranking"]):
        p = entry["plans"][i]
        row = np.full((h + gap, width, 3), 255, np.uint8)
        _text(row, f"#{r + 1}  plan {i}", (4, 20))
        _text(row, str(p["name"])[:28], (4, 40))
        _text(row, f"score {p['score']:.2f} dB", (4, 58))
        for v in range(V):
            x = label_w + 2 * v * (w + gap)
            row[:h, x:x + w] = up(res.final_frames[i][v])
            row[:h, x + w + gap:x + 2 * w + gap] = up(res.goal[v])
        rows.append(row)
    img = np.concatenate(rows, axis=0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return path
