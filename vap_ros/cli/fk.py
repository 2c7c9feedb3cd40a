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
    p.add_argument("--robot", default="panda", help="robot preset name or YAML (default panda)")
    p.add_argument("--urdf", default=None,
                   help="another URDF (path or package:// URI) instead of the preset")
    p.add_argument("--gripper-width", type=float, default=None, help="gripper opening, metres")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from vap_ros.robot import RobotModel

    robot = RobotModel(args.urdf) if args.urdf else RobotModel.from_preset(args.robot)
    frame = args.frame or robot.tcp_frame
    pose = robot.frame_poses(np.asarray(args.joints)[None], [frame], args.gripper_width)[0, 0]
    print(json.dumps({
        "robot": robot.name, "base_frame": robot.base_frame, "frame": frame,
        "joints": dict(zip(robot.arm_joint_names, args.joints)),
        "pose": pose.tolist(),
    }, indent=2))
    return 0
