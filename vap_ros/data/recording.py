"""Pass 1 over a bag: everything but the pixels.

Reads joint states, plans, TF and camera_info in full and the header stamp of every image
(without decoding it), resolves the rig config's topics against the bag, and calibrates every
camera. Problems with single messages are counted per topic; problems that make the bag unusable
(no joint states, no calibration, joint names that do not fit the robot) raise one clear error.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vap_ros.camera import Camera, load_calibration
from vap_ros.camera.transforms import TransformTree
from vap_ros.data.bag import BagReader
from vap_ros.data.config import CameraTopics, RigConfig, camera_name_from_topic
from vap_ros.data.messages import (
    CAMERA_INFO_TYPE,
    IMAGE_TYPES,
    JOINT_STATE_TYPE,
    PLAN_TYPE,
    TF_TYPE,
    JointStateParser,
    header_stamp_ns,
    plan_to_trajectory,
    raw_header_stamp_ns,
    tf_transforms,
)
from vap_ros.errors import BagError, CalibrationError, JointStateError, VapError
from vap_ros.robot import JointStateMapper, JointTrajectory, RobotModel

__all__ = ["CameraStream", "Recording", "read_recording", "resolve_cameras"]

_BAD_STAMP_NS = 5_000_000_000  # a header stamp this far off its topic's usual lag is corrupt


@dataclass
class CameraStream:
    """One camera of a bag.

    Attributes:
        name: camera name (config, else the image topic's namespace).
        topic / msgtype: image topic and its type (Image or CompressedImage).
        info_topic: the camera_info topic looked at.
        stamps_ns: (N,) header stamp of each image on the topic (log time where the stamp
            is zero); -1 where the message was unreadable.
        camera: calibrated camera at the images' native size.
    """

    name: str
    topic: str
    msgtype: str
    info_topic: str
    frame_id: str | None
    stamps_ns: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    camera: Camera | None = None

    def calibrated(self) -> Camera:
        """``camera`` (pass 1 calibrates every camera of a ``Recording``).

        Raises:
            CalibrationError: the stream has no calibration yet.
        """
        if self.camera is None:
            raise CalibrationError(f"camera {self.name!r} ({self.topic}) is not calibrated")
        return self.camera


@dataclass
class Recording:
    """What pass 1 learned about a bag."""

    path: Path
    cameras: list[CameraStream]
    logged: JointTrajectory  # arm order, stamps sorted, gripper width (m)
    plans: list[JointTrajectory]
    joint_topic: str
    plan_topic: str | None
    messages_skipped: dict[str, Counter]
    warnings: list[str]
    start_ns: int = 0

    def commanded(self, stamps_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The commanded plan at the given stamps: the latest plan started at or before each
        stamp, held at its last point after its end.

        Returns:
            q (N, n), gripper width (N,) (NaN where the plan has none), ok (N,) bool (False
            before the first plan).
        """
        s = np.asarray(stamps_ns, np.int64).reshape(-1)
        n = self.logged.positions.shape[1]
        q = np.zeros((s.size, n))
        w = np.full(s.size, np.nan)
        ok = np.zeros(s.size, bool)
        if not self.plans:
            return q, w, ok
        starts = np.array([p.stamps_ns[0] for p in self.plans], np.int64)
        which = np.searchsorted(starts, s, side="right") - 1
        for k in np.unique(which[which >= 0]):
            sel = which == k
            sampled = self.plans[k].sample(s[sel])
            q[sel] = sampled.positions
            if sampled.gripper_width_m is not None:
                w[sel] = sampled.gripper_width_m
            ok[sel] = True
        return q, w, ok


def _first_present(reader: BagReader, candidates, types) -> str | None:
    for t in candidates:
        info = reader.topics.get(t)
        if info is not None and info.msgtype in types:
            return t
    return None


def resolve_cameras(reader: BagReader, cfg: RigConfig) -> list[CameraStream]:
    """The rig config's cameras as present in the bag (``cameras: auto``: every colour image
    topic, raw preferred over its ``/compressed`` twin, depth topics left out).

    Raises:
        BagError: a configured camera has none of its image topics in the bag, or the bag has
            no image topic at all.
    """
    images = reader.topics_of_type(*IMAGE_TYPES)
    out: list[CameraStream] = []
    if cfg.cameras is None:
        topics = [t for t in images if "depth" not in t.lower()
                  and not (t.endswith("/compressed") and t[: -len("/compressed")] in images)]
        if not topics:
            raise BagError(f"bag {str(reader.path)!r} has no image topics (Image or "
                           f"CompressedImage); topics: {sorted(reader.topics)}")
        specs = [CameraTopics(None, (t,)) for t in topics]
    else:
        specs = list(cfg.cameras)
    for spec in specs:
        topic = _first_present(reader, spec.image_topic, IMAGE_TYPES)
        if topic is None:
            raise BagError(
                f"bag {str(reader.path)!r}: camera {spec.name or spec.image_topic[0]!r}: none "
                f"of the image topics {list(spec.image_topic)} is in the bag; image topics "
                f"present: {images}")
        base = topic[: -len("/compressed")] if topic.endswith("/compressed") else topic
        ns = base.rsplit("/", 1)[0]
        info_candidates = spec.info_topic or (f"{ns}/camera_info",)
        info = _first_present(reader, info_candidates, (CAMERA_INFO_TYPE,))
        out.append(CameraStream(
            name=spec.name or camera_name_from_topic(topic), topic=topic,
            msgtype=reader.topics[topic].msgtype, info_topic=info or info_candidates[0],
            frame_id=spec.frame_id))
    return out


def read_recording(reader: BagReader, cfg: RigConfig, robot: RobotModel, *,
                   calibration: str | Path | None = None) -> Recording:
    """Pass 1 (see the module docstring).

    Args:
        reader: an open bag.
        cfg: rig config.
        robot: the robot model (joint names, base frame, gripper).
        calibration: calibration YAML overriding camera_info/TF (default: ``cfg.calibration``).

    Raises:
        BagError: required topics missing, the bag unreadable.
        JointStateError: no joint state fits the robot (names/counts), naming the first error.
        CalibrationError: a camera without camera_info/TF and without an override.
    """
    path = reader.path
    warnings = list(reader.warnings)
    skipped: dict[str, Counter] = defaultdict(Counter)
    cameras = resolve_cameras(reader, cfg)

    js_topic = _first_present(reader, cfg.joint_states.topic, (JOINT_STATE_TYPE,))
    if js_topic is None:
        others = reader.topics_of_type(JOINT_STATE_TYPE)
        if len(others) == 1:
            js_topic = others[0]
            warnings.append(f"joint states: none of {list(cfg.joint_states.topic)} in the bag; "
                            f"using {js_topic}")
        else:
            raise BagError(
                f"bag {str(path)!r}: no joint states: none of {list(cfg.joint_states.topic)} "
                f"is a sensor_msgs/JointState topic here; JointState topics present: {others}")
    grip_topic = _first_present(reader, cfg.joint_states.gripper_topic, (JOINT_STATE_TYPE,))
    plan_topic = _first_present(reader, cfg.plan_topic, (PLAN_TYPE,))
    tf_topics = [t for t in cfg.tf_topics if t in reader.topics
                 and reader.topics[t].msgtype == TF_TYPE]

    override: dict[str, Camera] = {}
    calib_path = calibration or cfg.calibration
    if calib_path:
        override = load_calibration(calib_path, base_frame=robot.base_frame)
    for cam in cameras:
        if cam.name not in override and (cam.info_topic not in reader.topics
                                         or reader.topics[cam.info_topic].count == 0):
            raise CalibrationError(
                f"bag {str(path)!r}: camera {cam.name!r} has no calibration: no "
                f"sensor_msgs/CameraInfo on {cam.info_topic} and no entry {cam.name!r} in a "
                f"calibration override (rig config 'calibration:' or --calibration"
                + (f" {str(calib_path)!r}, which has {sorted(override)}" if calib_path else "")
                + ")")

    mapper = JointStateMapper.for_robot(robot, extra=cfg.joint_states.extra_joints,
                                        name_map=cfg.joint_states.name_map)
    grip_names = tuple(robot.gripper.joints) if robot.gripper else ()
    img_topic = {c.topic: c for c in cameras}
    img_stamps: dict[str, list[int]] = {c.topic: [] for c in cameras}
    img_logs: dict[str, list[int]] = {c.topic: [] for c in cameras}
    js_t, js_q, js_w = [], [], []
    gr_t, gr_w = [], []
    plans: list[JointTrajectory] = []
    infos: dict[str, object] = {}
    tree = TransformTree(source="the bag's TF")
    first_js_error: str | None = None
    jsp = JointStateParser()
    js_groups: dict[tuple[tuple[str, ...], int], tuple[list[int], list[np.ndarray]]] = {}
    info_topics = {c.info_topic for c in cameras if c.name not in override}
    wanted = ({js_topic} | set(img_topic) | set(tf_topics) | info_topics
              | ({grip_topic} if grip_topic else set()) | ({plan_topic} if plan_topic else set()))
    start = None
    try:
        for topic, _, log_ns, raw in reader.read(wanted, header_only=img_topic):
            start = log_ns if start is None else start
            if topic in img_topic:
                img_stamps[topic].append(raw_header_stamp_ns(raw, reader.is_ros2) or log_ns)
                img_logs[topic].append(log_ns)
                continue
            if topic in infos:
                continue  # one good CameraInfo per camera is enough
            if topic == js_topic:
                parsed = jsp.parse(raw) if reader.is_ros2 else None
                if parsed is None:  # not plain little-endian CDR: the generic way
                    try:
                        msg = reader.deserialize(raw, JOINT_STATE_TYPE)
                        parsed = (header_stamp_ns(msg), tuple(msg.name),
                                  np.asarray(msg.position, np.float64))
                    except Exception as err:  # noqa: BLE001 - serde errors: a corrupt message
                        skipped[topic][f"corrupt message ({type(err).__name__})"] += 1
                        continue
                stamp, names, pos = parsed
                group = js_groups.setdefault((names, pos.size), ([], []))
                group[0].append(stamp or log_ns)
                group[1].append(pos)
                continue
            msgtype = reader.topics[topic].msgtype
            try:
                msg = reader.deserialize(raw, msgtype)
            except Exception as err:  # noqa: BLE001 - serde errors: a corrupt message
                skipped[topic][f"corrupt message ({type(err).__name__})"] += 1
                continue
            try:
                if topic == grip_topic:
                    model_names = list(mapper.model_names(msg.name))
                    idx = [model_names.index(n) for n in grip_names if n in model_names]
                    if len(idx) != len(grip_names) or len(msg.position) < len(model_names):
                        raise JointStateError(f"gripper joints {list(grip_names)} not in "
                                              f"{model_names}", names=model_names,
                                              expected=grip_names)
                    gr_t.append(header_stamp_ns(msg) or log_ns)
                    gr_w.append(float(np.sum(np.asarray(msg.position, float)[idx])))
                elif topic == plan_topic:
                    plans.append(plan_to_trajectory(msg, log_ns, mapper))
                elif topic in tf_topics:
                    for parent, child, T in tf_transforms(msg):
                        tree.set(parent, child, T)
                elif topic in info_topics and topic not in infos:
                    infos[topic] = msg
            except JointStateError as err:
                skipped[topic][f"joint names/values do not fit {robot.name}: {err}"] += 1
            except VapError as err:
                skipped[topic][f"{type(err).__name__}: {err}"] += 1
    except BagError as err:
        warnings.append(f"pass 1 stopped early: {err}")
        skipped["(bag)"][f"unreadable: {err}"] += 1

    for (names, _), (stamps, rows) in js_groups.items():
        renamed = mapper.model_names(names)  # the mapper renames by itself; this is for idx
        if grip_names and set(grip_names) <= set(renamed) and not (
                set(robot.arm_joint_names) & set(renamed)):
            # gripper-only states on the same topic (a separate gripper driver): the width
            idx = [renamed.index(n) for n in grip_names]
            gr_t.extend(stamps)
            gr_w.extend(np.stack(rows)[:, idx].sum(axis=1).tolist())
            continue
        try:
            arm, width = mapper.map_many(names, np.stack(rows))
            ok_rows = np.ones(len(rows), bool)
        except JointStateError as err:
            if "non-finite" not in str(err):
                first_js_error = first_js_error or str(err)
                skipped[js_topic][f"joint names/values do not fit {robot.name}: {err}"] += \
                    len(rows)
                continue
            arm = np.zeros((len(rows), robot.n_arm))
            width = np.full(len(rows), np.nan)
            ok_rows = np.zeros(len(rows), bool)
            for k, row in enumerate(rows):  # NaN in some rows: keep the others
                try:
                    a, w_ = mapper.map(names, row)
                except JointStateError as e:
                    skipped[js_topic][f"{e}"] += 1
                    continue
                arm[k], ok_rows[k] = a, True
                width[k] = np.nan if w_ is None else w_
        js_t.extend(np.asarray(stamps, np.int64)[ok_rows].tolist())
        js_q.extend(arm[ok_rows])
        js_w.extend((np.full(len(rows), np.nan) if width is None else width)[ok_rows].tolist())
    if not js_t:
        if first_js_error:
            raise JointStateError(
                f"bag {str(path)!r}: none of the {sum(skipped[js_topic].values())} joint "
                f"states on {js_topic} fits the robot model {robot.name!r}: {first_js_error}")
        raise BagError(f"bag {str(path)!r}: no readable joint states on {js_topic}")

    logged = _joint_series(js_t, js_q, js_w, gr_t, gr_w, robot, skipped[js_topic], warnings,
                           js_topic)
    for cam in cameras:
        st = np.asarray(img_stamps[cam.topic], np.int64)
        lg = np.asarray(img_logs[cam.topic], np.int64)
        if st.size:
            off = st - lg
            bad = np.abs(off - np.median(off)) > _BAD_STAMP_NS
            if bad.any():
                skipped[cam.topic]["corrupt header stamp"] += int(bad.sum())
                st[bad] = -1
        cam.stamps_ns = st
        cam.camera = _calibrate(cam, override, infos, tree, robot, path,
                                cfg.base_frame or robot.base_frame)
    plans.sort(key=lambda p: int(p.stamps_ns[0]))
    if cfg.prompt_source == "commanded" and not plans:
        warnings.append("prompt_source is 'commanded' but the bag has no plan "
                        f"(looked for {list(cfg.plan_topic)}): no clip has commanded prompts")
    return Recording(path, cameras, logged, plans, js_topic, plan_topic,
                     {k: v for k, v in skipped.items() if v}, warnings, int(start or 0))


def _joint_series(t, q, w, gt, gw, robot, skipped: Counter, warnings, topic) -> JointTrajectory:
    t = np.asarray(t, np.int64)
    q = np.asarray(q, np.float64)
    w = np.asarray(w, np.float64)
    order = np.argsort(t, kind="stable")
    t, q, w = t[order], q[order], w[order]
    keep = np.ones(t.size, bool)
    keep[1:] = np.diff(t) > 0
    if (~keep).any():
        skipped["duplicate stamp"] += int((~keep).sum())
        t, q, w = t[keep], q[keep], w[keep]
    if np.isnan(w).all():
        if gt:
            gt_a = np.asarray(gt, np.int64)
            o = np.argsort(gt_a, kind="stable")
            w = np.interp(t.astype(np.float64), gt_a[o].astype(np.float64),
                          np.asarray(gw, np.float64)[o])
        else:
            default = robot.gripper.default_width_m if robot.gripper else 0.0
            if robot.gripper:
                warnings.append(f"{topic} has no finger joints {list(robot.gripper.joints)} and "
                                f"no gripper topic was found: gripper width set to {default} m")
            w = np.full(t.size, default)
    elif np.isnan(w).any():
        good = ~np.isnan(w)
        w = np.interp(t, t[good], w[good])
    return JointTrajectory(robot.arm_joint_names, q, t, w)


def _calibrate(cam: CameraStream, override, infos, tree: TransformTree, robot, path,
               tf_base: str) -> Camera:
    from dataclasses import replace

    if cam.name in override:
        return replace(override[cam.name], name=cam.name)
    msg = infos.get(cam.info_topic)
    if msg is None:
        raise CalibrationError(
            f"bag {str(path)!r}: camera {cam.name!r}: no readable CameraInfo on "
            f"{cam.info_topic} and no calibration override for it")
    frame = cam.frame_id or str(msg.header.frame_id).lstrip("/")
    if not frame:
        raise CalibrationError(f"bag {str(path)!r}: camera {cam.name!r}: CameraInfo has no "
                               "header.frame_id; set frame_id in the rig config")
    try:
        T_base_cam = tree.lookup(tf_base, frame)
    except CalibrationError as err:
        raise CalibrationError(f"bag {str(path)!r}: camera {cam.name!r}: {err} (add the camera "
                               "mount to /tf_static or give a calibration override)") from err
    return Camera.from_camera_info(msg, np.linalg.inv(T_base_cam), name=cam.name,
                                   base_frame=robot.base_frame)
