"""Build the MuJoCo tabletop scene from the robot's own URDF (one kinematic truth).

The URDF that :class:`vap_ros.robot.RobotModel` loads with pinocchio is loaded here with
``MjSpec``: ``package://`` paths made absolute, ``<visual>`` elements dropped (MuJoCo cannot
read the .dae visual meshes; the .stl collision meshes render ~5x faster anyway), static bodies
kept (``fusestatic=false``) so every URDF frame is a MuJoCo body. On top: position actuators
on the arm and finger joints, gravity compensation, a table, coloured objects with physics,
fixed cameras from the layout, an optional wrist camera, a light and invisible keypoint
markers (geom group 5) used to check the calibration against the renderer.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import numpy as np

from vap_ros.camera import Camera, look_at
from vap_ros.errors import ConfigError
from vap_ros.robot import RobotModel, SkeletonSpec
from vap_ros.robot.description import resolve_package_uri
from vap_ros.sim.cameras import mujoco_camera_params
from vap_ros.sim.config import SceneConfig
from vap_ros.sim.layout import SceneLayout

os.environ.setdefault("MUJOCO_GL", "egl")  # headless; must be set before mujoco is imported
import mujoco

__all__ = ["MARKER_GROUP", "Scene", "build_scene", "robot_spec_from_urdf"]

#: Geom group of the calibration markers (hidden in normal renders: groups 0-2 are shown).
MARKER_GROUP = 5
#: Keypoints on these frames get markers ("the hand and the fingertips").
MARKER_FRAMES = ("panda_hand", "panda_hand_tcp", "panda_leftfinger", "panda_rightfinger")

# Contact bits: environment 1, objects 2, robot 4. The robot never collides with itself.
_ENV, _OBJ, _ROBOT = 1, 2, 4

# Position-servo gains per arm joint (N m / rad, N m s / rad) and finger servo (N / m, N s / m).
_ARM_KP = (4500.0, 4500.0, 3500.0, 3500.0, 2000.0, 2000.0, 2000.0)
_FINGER_KP, _FINGER_KV, _FINGER_FORCE = 1000.0, 20.0, 40.0

#: Wrist camera mount in the hand frame (look-at: eye, target; metres).
_WRIST_EYE, _WRIST_TARGET, _WRIST_FOV = (0.07, 0.0, 0.02), (0.0, 0.0, 0.16), 70.0


def _set_damping(joint, value: float) -> None:
    """Joint damping in N m s / rad: a 3-vector (polynomial) in MuJoCo 4, a scalar before."""
    if np.ndim(joint.damping):
        d = np.zeros(np.size(joint.damping))
        d[0] = value
        joint.damping = d.tolist()
    else:
        joint.damping = value


def robot_spec_from_urdf(robot: RobotModel) -> "mujoco.MjSpec":
    """An ``MjSpec`` of the robot's URDF with collision meshes as the rendered geometry."""
    if robot.urdf_path is None:
        raise ConfigError(f"robot {robot.name!r} was built from URDF text; the simulator loads "
                          "a URDF file (RobotModel(path) or a preset)")
    root = ET.parse(robot.urdf_path).getroot()
    for link in root.findall("link"):
        for visual in link.findall("visual"):
            link.remove(visual)
    for mesh in root.iter("mesh"):
        mesh.set("filename", str(resolve_package_uri(mesh.get("filename", ""))))
    mj = ET.SubElement(root, "mujoco")
    ET.SubElement(mj, "compiler", strippath="false", fusestatic="false",
                  discardvisual="false", balanceinertia="true")
    try:
        return mujoco.MjSpec.from_string(ET.tostring(root, encoding="unicode"))
    except Exception as err:  # mujoco raises ValueError with the parser message
        raise ConfigError(f"MuJoCo cannot load {robot.urdf_path}: {err}") from err


@dataclass
class Scene:
    """A compiled scene and the indices the rig needs.

    Attributes:
        config, layout: what it was built from.
        robot: the pinocchio model of the same URDF.
        model: the compiled ``mujoco.MjModel``.
        arm_qpos, arm_dof: qpos / dof addresses of the arm joints (robot order).
        finger_qpos, finger_dof: the same for the gripper joints.
        arm_act, finger_act: actuator ids.
        objects: body id per object name.
        markers: (keypoint name, geom id) of the calibration markers.
        T_hand_wrist: wrist camera optical frame in ``panda_hand`` (None without one).
    """

    config: SceneConfig
    layout: SceneLayout
    robot: RobotModel
    model: "mujoco.MjModel"
    arm_qpos: np.ndarray
    arm_dof: np.ndarray
    finger_qpos: np.ndarray
    finger_dof: np.ndarray
    arm_act: np.ndarray
    finger_act: np.ndarray
    objects: dict[str, int]
    markers: tuple[tuple[str, int], ...]
    T_hand_wrist: np.ndarray | None

    @property
    def camera_names(self) -> tuple[str, ...]:
        return self.config.camera_names

    @property
    def joint_names(self) -> tuple[str, ...]:
        """What /joint_states lists: the arm joints, then the finger joints."""
        grip = self.robot.gripper.joints if self.robot.gripper else ()
        return tuple(self.robot.arm_joint_names) + tuple(grip)


def _wrist_camera(cfg: SceneConfig) -> Camera:
    """The wrist camera as a Camera whose 'base' is the hand frame."""
    return look_at("wrist", _WRIST_EYE, _WRIST_TARGET, width=cfg.width, height=cfg.height,
                   fov_y_deg=_WRIST_FOV, up=(1.0, 0.0, 0.0), base_frame="panda_hand")


def build_scene(cfg: SceneConfig, layout: SceneLayout, robot: RobotModel | None = None,
                skeleton: SkeletonSpec | None = None) -> Scene:
    """Compile the MuJoCo model of one layout.

    Raises:
        ConfigError: the robot cannot be loaded or lacks the expected joints.
    """
    robot = robot or RobotModel.from_preset(cfg.robot)
    skeleton = skeleton or SkeletonSpec.from_preset(cfg.robot)
    spec = robot_spec_from_urdf(robot)
    spec.modelname = "vap_ros_tabletop"
    spec.option.timestep = 1.0 / cfg.physics_hz
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.impratio = 10.0
    spec.visual.global_.offwidth = max(cfg.width, 64)
    spec.visual.global_.offheight = max(cfg.height, 64)
    spec.visual.quality.offsamples = cfg.msaa_samples
    # Clipping planes are znear/zfar x extent: fix them at 1 cm and 10 m (the wrist camera
    # sees the fingers from 7 cm; the room would otherwise push the near plane out).
    spec.stat.extent = 2.0
    spec.visual.map.znear = 0.005
    spec.visual.map.zfar = 5.0
    spec.visual.headlight.diffuse = [0.25, 0.25, 0.25]
    spec.visual.headlight.ambient = [layout.light.ambient] * 3
    spec.visual.headlight.specular = [0.0, 0.0, 0.0]

    grip_joints = robot.gripper.joints if robot.gripper else ()
    by_name = {j.name: j for j in spec.joints}
    for name in (*robot.arm_joint_names, *grip_joints):
        if name not in by_name:
            raise ConfigError(f"joint {name!r} of {robot.name} missing in the MuJoCo model")

    # Robot: appearance, contacts, gravity compensation, joint armature.
    hand_bodies = {"panda_hand", "panda_leftfinger", "panda_rightfinger"}
    for body in spec.bodies:
        if body.name == "world":
            continue
        body.gravcomp = 1.0
        for g in body.geoms:
            g.contype, g.conaffinity = _ROBOT, _ENV | _OBJ
            g.rgba = [0.2, 0.2, 0.22, 1.0] if body.name in hand_bodies else [0.93, 0.93, 0.92, 1]
            if body.name in ("panda_leftfinger", "panda_rightfinger"):
                g.friction = [1.5, 0.01, 0.001]
                g.condim = 4
    for name in robot.arm_joint_names:
        by_name[name].armature = 0.1
        _set_damping(by_name[name], 1.0)
    for name in grip_joints:
        by_name[name].armature = 0.1
        _set_damping(by_name[name], 0.0)

    # Actuators: joint position servos with the URDF's effort limits.
    for i, name in enumerate(robot.arm_joint_names):
        a = spec.add_actuator(name=f"act_{name}", target=name,
                              trntype=mujoco.mjtTrn.mjTRN_JOINT)
        kp = _ARM_KP[i] if i < len(_ARM_KP) else _ARM_KP[-1]
        a.set_to_position(kp=kp, kv=kp / 10.0)
        a.ctrlrange = [robot.lower_limits[i], robot.upper_limits[i]]
        a.ctrllimited = True
        effort = 87.0 if i < 4 else 12.0
        a.forcerange = [-effort, effort]
        a.forcelimited = True
    for name in grip_joints:
        a = spec.add_actuator(name=f"act_{name}", target=name,
                              trntype=mujoco.mjtTrn.mjTRN_JOINT)
        a.set_to_position(kp=_FINGER_KP, kv=_FINGER_KV)
        a.ctrlrange = [0.0, robot.gripper.max_width_m / len(grip_joints)]
        a.ctrllimited = True
        a.forcerange = [-_FINGER_FORCE, _FINGER_FORCE]
        a.forcelimited = True

    # Calibration markers: spheres at the hand and finger keypoints, hidden (group 5).
    markers: list[str] = []
    if cfg.markers:
        bodies = {b.name: b for b in spec.bodies}
        for name, frame, off in zip(skeleton.names, skeleton.frames, skeleton.offsets):
            if frame in MARKER_FRAMES and frame in bodies:
                bodies[frame].add_geom(
                    name=f"marker_{name}", type=mujoco.mjtGeom.mjGEOM_SPHERE,
                    size=[cfg.marker_radius_m, 0, 0], pos=list(map(float, off)),
                    group=MARKER_GROUP, contype=0, conaffinity=0, mass=0.0, density=0.0,
                    rgba=[1.0, 0.0, 1.0, 1.0])
                markers.append(name)

    world = spec.worldbody
    # Table (top surface = base frame z = 0) and floor.
    world.add_geom(name="table", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.7, 0.8, 0.02],
                   pos=[0.35, 0.0, -0.02], rgba=[0.62, 0.52, 0.40, 1.0],
                   contype=_ENV, conaffinity=_OBJ | _ROBOT, friction=[0.8, 0.005, 0.0001])
    # A finite plane: an infinite one renders as a dense grid (~4x slower on llvmpipe).
    world.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[4.0, 4.0, 0.1],
                   pos=[0.0, 0.0, -0.75], rgba=[0.35, 0.36, 0.38, 1.0],
                   contype=_ENV, conaffinity=_OBJ)
    # A room around the table (visual only), so no view looks into the black void.
    for name, size, pos, grey in (("wall_back", [0.02, 3.0, 1.6], [-1.6, 0.0, 0.1], 0.80),
                                  ("wall_left", [2.6, 0.02, 1.6], [1.0, 3.0, 0.1], 0.74),
                                  ("wall_right", [2.6, 0.02, 1.6], [1.0, -3.0, 0.1], 0.74),
                                  ("wall_front", [0.02, 3.0, 1.6], [3.6, 0.0, 0.1], 0.70)):
        world.add_geom(name=name, type=mujoco.mjtGeom.mjGEOM_BOX, size=size, pos=pos,
                       rgba=[grey, grey + 0.02, grey + 0.05, 1.0], contype=0, conaffinity=0)
    d = np.asarray(layout.light.direction, np.float64)
    world.add_light(name="sun", type=mujoco.mjtLightType.mjLIGHT_DIRECTIONAL,
                    pos=list(-2.0 * d), dir=list(d), diffuse=[layout.light.diffuse] * 3,
                    specular=[0.1, 0.1, 0.1], castshadow=cfg.shadows)

    # Objects: free bodies resting on the table.
    shapes = {"box": mujoco.mjtGeom.mjGEOM_BOX, "cylinder": mujoco.mjtGeom.mjGEOM_CYLINDER,
              "sphere": mujoco.mjtGeom.mjGEOM_SPHERE}
    for o in layout.objects:
        c, s = np.cos(o.yaw / 2), np.sin(o.yaw / 2)
        b = world.add_body(name=o.name, pos=list(o.pos), quat=[c, 0.0, 0.0, s])
        b.add_freejoint(name=f"{o.name}_free")
        size = list(o.size) + [0.0] * (3 - len(o.size))
        b.add_geom(name=f"{o.name}_geom", type=shapes[o.shape], size=size, mass=o.mass_kg,
                   rgba=list(o.rgba), contype=_OBJ, conaffinity=_ENV | _OBJ | _ROBOT,
                   condim=4, friction=[1.0, 0.01, 0.001])

    # Cameras: fixed ones in the world (= base frame: the robot stands at the origin).
    for cam in layout.cameras:
        cam_pos, quat, fovy = mujoco_camera_params(cam)
        world.add_camera(name=cam.name, pos=list(cam_pos), quat=list(quat), fovy=fovy)
    T_hand_wrist = None
    if cfg.wrist_camera:
        wrist = _wrist_camera(cfg)
        cam_pos, quat, fovy = mujoco_camera_params(wrist)
        hand = next(b for b in spec.bodies if b.name == "panda_hand")
        hand.add_camera(name="wrist", pos=list(cam_pos), quat=list(quat), fovy=fovy)
        T_hand_wrist = wrist.T_base_cam

    try:
        model = spec.compile()
    except Exception as err:
        raise ConfigError(f"MuJoCo scene does not compile: {err}") from err

    def jid(name):
        return mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)

    def aid(name):
        return mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, f"act_{name}")

    arm_j = [jid(n) for n in robot.arm_joint_names]
    grip_j = [jid(n) for n in grip_joints]
    return Scene(
        config=cfg, layout=layout, robot=robot, model=model,
        arm_qpos=np.array([model.jnt_qposadr[j] for j in arm_j], np.intp),
        arm_dof=np.array([model.jnt_dofadr[j] for j in arm_j], np.intp),
        finger_qpos=np.array([model.jnt_qposadr[j] for j in grip_j], np.intp),
        finger_dof=np.array([model.jnt_dofadr[j] for j in grip_j], np.intp),
        arm_act=np.array([aid(n) for n in robot.arm_joint_names], np.intp),
        finger_act=np.array([aid(n) for n in grip_joints], np.intp),
        objects={o.name: mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, o.name)
                 for o in layout.objects},
        markers=tuple((n, mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, f"marker_{n}"))
                      for n in markers),
        T_hand_wrist=T_hand_wrist,
    )
