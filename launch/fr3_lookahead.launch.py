"""Lookahead on a Franka Research 3 run by franka_ros2, with one Intel RealSense: lookahead +
prompt nodes, optionally the camera driver and its mount transform, and RViz.

Start the robot first with franka_ros2's own launch file (it publishes /robot_description,
/joint_states merged from the arm and /franka_gripper/joint_states, and /tf), then:

    ros2 launch vap_ros fr3_lookahead.launch.py device:=cuda dtype:=bfloat16 \\
        camera:=true camera_mount:="0.9 0.0 0.6 0.0 0.5 3.14"

* robot description: ``robot_description_file`` (a URDF or xacro file, expanded here with
  ``xacro_args``) is handed to the nodes as their ``robot_description`` parameter; left empty,
  the nodes read the robot's own ``/robot_description`` topic (franka_ros2's
  robot_state_publisher). Without either they fall back to the ``fr3`` preset.
* camera: ``camera:=true`` starts realsense2_camera (namespace and name ``camera``: topics
  ``/camera/camera/color/...``); ``camera_mount:="x y z roll pitch yaw"`` publishes the
  hand-eye calibration (``base_frame`` → ``camera_frame``) on /tf_static, or give
  ``calibration_file``.
* plans: trajectory_msgs/JointTrajectory on ``plan_topic``, MoveIt's
  moveit_msgs/DisplayTrajectory on ``display_trajectory_topic`` (when moveit_msgs is installed).

Parameters: config/fr3_lookahead_node.yaml, config/fr3_prompt_node.yaml, overridden by the
arguments. Use the robot network's DDS settings (not scripts/env.sh). Without ros2 launch:
``vap-ros run fr3``.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def _nodes(context):
    """The nodes, built once the arguments are known (xacro and the mount need their values)."""
    description_file = LaunchConfiguration("robot_description_file").perform(context)
    xacro_args = LaunchConfiguration("xacro_args").perform(context).split()
    camera = LaunchConfiguration("camera").perform(context).lower() in ("true", "1")
    mount = LaunchConfiguration("camera_mount").perform(context).split()
    base_frame = LaunchConfiguration("base_frame").perform(context)
    camera_frame = LaunchConfiguration("camera_frame").perform(context)
    rviz = LaunchConfiguration("rviz").perform(context).lower() in ("true", "1")
    description = ""
    if description_file:
        import subprocess

        cmd = ["xacro", description_file, *xacro_args]
        description = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    config = PathJoinSubstitution([FindPackageShare("vap_ros"), "config"])
    robot = {
        "use_sim_time": LaunchConfiguration("use_sim_time"),
        "base_frame": LaunchConfiguration("base_frame"),
        "calibration_file": LaunchConfiguration("calibration_file"),
        "joint_states_topic": LaunchConfiguration("joint_states_topic"),
        # parameters the nodes declare in the lead's rewrite (issue 14)
        "robot_description": description,
        "joint_name_map": LaunchConfiguration("joint_name_map"),
        "gripper_joint_states_topic": LaunchConfiguration("gripper_joint_states_topic"),
    }
    nodes = [
        Node(
            package="vap_ros", executable="lookahead_node", name="lookahead_node",
            namespace=LaunchConfiguration("namespace"), output="screen",
            parameters=[PathJoinSubstitution([config, "fr3_lookahead_node.yaml"]), robot, {
                "model": LaunchConfiguration("model"),
                "model_base": LaunchConfiguration("model_base"),
                "device": LaunchConfiguration("device"),
                "dtype": LaunchConfiguration("dtype"),
                "plan_topic": LaunchConfiguration("plan_topic"),
                "display_trajectory_topic": LaunchConfiguration("display_trajectory_topic"),
            }],
        ),
        Node(
            package="vap_ros", executable="prompt_node", name="prompt_node",
            namespace=LaunchConfiguration("namespace"), output="screen",
            parameters=[PathJoinSubstitution([config, "fr3_prompt_node.yaml"]), robot],
        ),
    ]
    if camera:
        nodes.append(Node(
            package="realsense2_camera", executable="realsense2_camera_node", name="camera",
            namespace="camera", output="screen",
            parameters=[{"enable_color": True, "enable_depth": False,
                         "use_sim_time": LaunchConfiguration("use_sim_time")}],
        ))
    if mount:
        if len(mount) != 6:
            raise ValueError(f"camera_mount {' '.join(mount)!r}: expected 'x y z roll pitch "
                             "yaw' (6 numbers, metres and radians)")
        flags = ["--x", "--y", "--z", "--roll", "--pitch", "--yaw"]
        nodes.append(Node(
            package="tf2_ros", executable="static_transform_publisher", name="camera_mount",
            arguments=[v for pair in zip(flags, mount, strict=True) for v in pair]
            + ["--frame-id", base_frame, "--child-frame-id", camera_frame],
        ))
    if rviz:
        nodes.append(Node(
            package="rviz2", executable="rviz2", name="rviz2",
            namespace=LaunchConfiguration("namespace"),
            arguments=["-d", PathJoinSubstitution([config, "fr3_lookahead.rviz"]),
                       "-f", LaunchConfiguration("base_frame")],
            parameters=[{"use_sim_time": LaunchConfiguration("use_sim_time")}],
        ))
    return nodes


def generate_launch_description():
    share = FindPackageShare("vap_ros")
    return LaunchDescription([
        DeclareLaunchArgument("model", default_value=PathJoinSubstitution(
            [share, "models", "vap_small_sim"]),
            description="checkpoint directory (default: the shipped model) or a preset name"),
        DeclareLaunchArgument("model_base", default_value="",
                              description="local diffusers directory of a CogVideoX base"),
        DeclareLaunchArgument("device", default_value="cpu", description="cpu, cuda, cuda:0"),
        DeclareLaunchArgument("dtype", default_value="float32",
                              description="float32, bfloat16 or float16"),
        DeclareLaunchArgument("base_frame", default_value="fr3_link0",
                              description="robot base frame: extrinsics, markers, RViz"),
        DeclareLaunchArgument("namespace", default_value="",
                              description="namespace of the vap_ros nodes"),
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="follow /clock (Gazebo, a replayed bag)"),
        DeclareLaunchArgument("rviz", default_value="true", description="start RViz"),
        DeclareLaunchArgument(
            "robot_description_file", default_value="",
            description="URDF or xacro file; empty = the robot's /robot_description topic"),
        DeclareLaunchArgument("xacro_args", default_value="",
                              description="xacro arguments, e.g. 'arm_id:=fr3 hand:=true'"),
        DeclareLaunchArgument(
            "joint_name_map", default_value="",
            description="rename joints before matching, e.g. 'left_*:=*' (comma-separated)"),
        DeclareLaunchArgument("joint_states_topic", default_value="/joint_states",
                              description="sensor_msgs/JointState of the arm (+ fingers)"),
        DeclareLaunchArgument("gripper_joint_states_topic",
                              default_value="/franka_gripper/joint_states",
                              description="the Franka Hand's JointState (gripper width)"),
        DeclareLaunchArgument("plan_topic", default_value="/planned_trajectory",
                              description="trajectory_msgs/JointTrajectory plans to predict"),
        DeclareLaunchArgument(
            "display_trajectory_topic", default_value="/display_planned_path",
            description="MoveIt's moveit_msgs/DisplayTrajectory; empty = no subscription"),
        DeclareLaunchArgument("calibration_file", default_value="",
                              description="camera calibration YAML; empty = /tf_static"),
        DeclareLaunchArgument("camera", default_value="false",
                              description="start realsense2_camera (namespace/name 'camera')"),
        DeclareLaunchArgument(
            "camera_mount", default_value="",
            description="'x y z roll pitch yaw' (m, rad) of camera_frame in base_frame on "
                        "/tf_static; empty = published elsewhere"),
        DeclareLaunchArgument("camera_frame", default_value="camera_link",
                              description="the camera driver's root frame"),
        OpaqueFunction(function=_nodes),
    ])
