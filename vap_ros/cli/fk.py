"""``vap-ros fk``: a frame's pose in the base frame, as JSON."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("fk", help="forward kinematics of one configuration (JSON)",
                       description="Print a frame's pose in the robot base frame as JSON: "
                                   '{"robot", "base_frame", "frame", "joints", "pose"} with '
                                   '"pose" a 4x4 row-major matrix (list of rows), metres.')
    p.add_argument("--joints", type=float, nargs="+", required=True, metavar="Q",
                   help="arm joint positions in model order (radians)")
    p.add_argument("--frame", default=None,
                   help="frame name (default: the gripper TCP, Franka's O_T_EE)")
    p.add_argument("--robot", default="panda",
                   help="robot preset: panda, fr3, or a YAML path (default panda)")
    p.add_argument("--urdf", default=None,
                   help="another URDF (path or package:// URI) instead of the preset; every "
                        "1-DoF joint is then commanded")
    p.add_argument("--robot-description", default=None, metavar="FILE",
                   help="a URDF file read as a robot's /robot_description (xacro already "
                        "expanded): kinematics from it, joints/frames from --robot when they "
                        "fit, else derived for a Franka arm (<prefix>joint1..7)")
    p.add_argument("--gripper-width", type=float, default=None,
                   help="gripper opening, metres (0 .. the gripper's maximum)")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from vap_ros.robot import RobotModel, load_robot
    from vap_ros.robot.description import resolve_path

    if args.urdf:
        robot = RobotModel(args.urdf)
    elif args.robot_description:
        xml = resolve_path(args.robot_description).read_text()
        robot = load_robot(args.robot, robot_description=xml).robot
    else:
        robot = RobotModel.from_preset(args.robot)
    frame = args.frame or robot.tcp_frame
    robot.frame_id(frame)
    q = np.asarray(args.joints, np.float64)[None]
    check_limits(robot, q[0], args.gripper_width)
    pose = robot.frame_poses(q, [frame], args.gripper_width)[0, 0]
    print(json.dumps({
        "robot": robot.name, "base_frame": robot.base_frame, "frame": frame,
        "joints": dict(zip(robot.arm_joint_names, args.joints, strict=True)),
        "pose": pose.tolist(),
    }, indent=2))
    return 0


def check_limits(robot, q, gripper_width_m) -> None:
    """Refuse joint positions outside the URDF limits and a gripper width outside
    [0, max_width_m] (the kinematics would otherwise answer for a pose the robot cannot take,
    or clamp the width without saying so).

    Raises:
        JointStateError: the wrong number of joints or a NaN (from ``configurations``).
        JointLimitError: naming the joint, the value and its limits.
    """
    import numpy as np

    from vap_ros.errors import JointLimitError, JointStateError

    robot.configurations(q[None])  # count and finiteness, with the library's messages
    inside = robot.within_limits(q[None])[0]
    if not inside.all():
        i = int(np.flatnonzero(~inside)[0])
        raise JointLimitError(robot.arm_joint_names[i], float(q[i]),
                              float(robot.lower_limits[i]), float(robot.upper_limits[i]),
                              expected=robot.arm_joint_names)
    if gripper_width_m is not None:
        if robot.gripper is None:
            raise JointStateError(f"--gripper-width {gripper_width_m:g}: {robot.name} has no "
                                  "gripper")
        w, hi = float(gripper_width_m), robot.gripper.max_width_m
        if not (np.isfinite(w) and -1e-9 <= w <= hi + 1e-9):
            raise JointLimitError("gripper width", w, 0.0, hi, unit="m")
