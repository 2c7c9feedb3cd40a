"""The robot a node or tool works with: a ``robot_description`` (URDF text, as a robot publishes
it on ``/robot_description``) first, a robot preset as the fallback.

``load_robot(robot="fr3", robot_description=xml)`` takes the kinematics from the description and
the joint split, frames and skeleton from the preset when the description has the preset's
joints; otherwise it derives them for a Franka-style arm from the joint names alone: prefix ``P``
with ``Pjoint1``…``Pjoint7`` (``panda_``, ``fr3_``, ``left_fr3_`` …), optional gripper
``Pfinger_joint1/2``, base ``Plink0``, TCP ``Phand_tcp`` (else the flange ``Plink8``), and the
Panda skeleton with its frames renamed (keypoints on frames the description lacks, e.g. the
hand of an arm without one, are left out).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple, Sequence

from vap_ros.errors import ConfigError
from vap_ros.robot.model import GripperSpec, RobotModel
from vap_ros.robot.skeleton import PRESETS, SkeletonSpec, load_robot_preset

__all__ = ["RobotSetup", "franka_prefix", "franka_settings", "load_robot", "load_skeleton"]

_ARM = tuple(f"joint{i}" for i in range(1, 8))
_FINGERS = ("finger_joint1", "finger_joint2")


class RobotSetup(NamedTuple):
    """A robot model and the skeleton drawn for it (frames checked against the model)."""

    robot: RobotModel
    skeleton: SkeletonSpec


def franka_prefix(joint_names: Sequence[str]) -> str | None:
    """The prefix ``P`` for which ``Pjoint1``…``Pjoint7`` are all among ``joint_names``
    (the shortest if several), or None."""
    names = set(joint_names)
    candidates = sorted({n[:-len("joint1")] for n in names if n.endswith("joint1")}, key=len)
    for p in candidates:
        if all(p + j in names for j in _ARM):
            return p
    return None


def franka_settings(prefix: str, robot: RobotModel) -> dict[str, Any]:
    """Preset-style settings (``arm_joints``, ``gripper``, ``base_frame``, ``tcp_frame``,
    ``skeleton``) of a Franka-style arm with joint prefix ``prefix`` in ``robot``'s URDF.
    The gripper's maximum width is the sum of the finger joints' upper limits."""
    frames = set(robot.frame_names)
    joints = set(robot.model.names)
    settings: dict[str, Any] = {
        "arm_joints": [prefix + j for j in _ARM],
        "base_frame": prefix + "link0" if prefix + "link0" in frames else None,
        "tcp_frame": next((prefix + f for f in ("hand_tcp", "link8") if prefix + f in frames),
                          None),
        "gripper": None,
    }
    fingers = [prefix + f for f in _FINGERS]
    if all(f in joints for f in fingers):
        upper = [float(robot.model.upperPositionLimit[
            robot.model.joints[robot.model.getJointId(f)].idx_q]) for f in fingers]
        width = sum(upper) if all(0 < u < 1 for u in upper) else 0.08
        settings["gripper"] = {"joints": fingers, "max_width_m": width,
                               "default_width_m": width}
    skel = load_robot_preset("panda")["skeleton"]
    renamed = [{**k, "frame": prefix + k["frame"][len("panda_"):]} for k in skel["keypoints"]]
    kept = [k for k in renamed if k["frame"] in frames]
    names = {k["name"] for k in kept}
    settings["skeleton"] = {
        "keypoints": kept,
        "edges": [e for e in skel["edges"] if e[0] in names and e[1] in names],
        "discs": [n for n in skel["discs"] if n in names],
        "gripper_keypoints": [n for n in skel["gripper_keypoints"] if n in names],
    }
    return settings


def _gripper(d: dict | None) -> GripperSpec | None:
    if not d:
        return None
    width = float(d.get("max_width_m", 0.08))
    return GripperSpec(tuple(d["joints"]), width, float(d.get("default_width_m", width)))


def load_skeleton(skeleton: str | Path) -> SkeletonSpec:
    """A skeleton by robot preset name (``panda``, ``fr3``) or from a YAML file with a
    ``skeleton:`` block (a robot preset file, or one holding only the skeleton)."""
    doc = PRESETS.load(skeleton)
    if "skeleton" not in doc.data:
        raise ConfigError("no 'skeleton' block (expected keypoints, edges, discs)",
                          source=doc.source)
    try:
        return SkeletonSpec.from_dict(doc.data["skeleton"])
    except ConfigError as err:
        raise err.within("skeleton", source=doc.source) from None


def load_robot(robot: str | Path = "panda", *, robot_description: str = "",
               skeleton: str | Path = "") -> RobotSetup:
    """The robot model and skeleton (see the module docstring).

    Args:
        robot: robot preset name (``panda``, ``fr3``) or YAML path: the model when no
            description is given, else the joint split / frames / skeleton if it fits.
        robot_description: URDF text ("" = use the preset's URDF).
        skeleton: a skeleton preset name or YAML path overriding the preset's or derived one.

    Raises:
        ConfigError: unknown preset; a description that is not a URDF, or that has neither
            the preset's joints nor a Franka arm's ``<prefix>joint1..7`` (listing its joints);
            a skeleton whose frames the robot lacks.
    """
    if not robot_description:
        model = RobotModel.from_preset(robot)
        spec = load_skeleton(skeleton or robot)
    else:
        bare = RobotModel.from_urdf_string(robot_description)
        movable = [n for n in bare.model.names[1:]]
        preset = load_robot_preset(robot) if robot else None
        if preset and all(j in movable for j in preset.get("arm_joints") or ()) and all(
                bare.model.existFrame(f) for f in (preset.get("base_frame"),
                                                   preset.get("tcp_frame")) if f):
            settings, how = preset, f"robot preset {str(robot)!r}"
        else:
            prefix = franka_prefix(movable)
            if prefix is None:
                want = (f"the arm joints of robot preset {str(robot)!r} "
                        f"{preset.get('arm_joints')} or " if preset else "")
                raise ConfigError(
                    f"robot_description (robot {bare.model.name!r}) has joints {movable}; "
                    f"expected {want}a Franka arm's <prefix>joint1..<prefix>joint7 "
                    "(e.g. fr3_joint1..fr3_joint7)")
            settings, how = franka_settings(prefix, bare), f"Franka arm with prefix {prefix!r}"
        try:
            model = RobotModel.from_urdf_string(
                robot_description, arm_joints=settings.get("arm_joints"),
                gripper=_gripper(settings.get("gripper")),
                base_frame=settings.get("base_frame"), tcp_frame=settings.get("tcp_frame"),
                name=bare.model.name)
        except ConfigError as err:
            raise ConfigError(f"robot_description read as a {how}: {err}") from err
        if skeleton:
            spec = load_skeleton(skeleton)
        elif "skeleton" in settings:
            spec = SkeletonSpec.from_dict(settings["skeleton"])
        else:
            raise ConfigError(f"{how} has no 'skeleton' block; give a skeleton preset or file")
    missing = sorted({f for f in spec.frames if not model.model.existFrame(f)})
    if missing:
        raise ConfigError(f"skeleton {str(skeleton or robot)!r} uses frames {missing} that "
                          f"robot {model.name!r} ({model.source}) does not have; its frames: "
                          f"{', '.join(model.frame_names[1:])}")
    return RobotSetup(model, spec)
