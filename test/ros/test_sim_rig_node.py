"""The live simulated rig: publishes a Franka rig's topics, executes plans, refuses bad ones
and keeps running. Spun in-process over shared-memory DDS (test/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.ros, pytest.mark.mujoco]

FRANKA = [f"panda_joint{i}" for i in range(1, 8)] + ["panda_finger_joint1",
                                                     "panda_finger_joint2"]


@pytest.fixture(scope="module")
def rig(ros):
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import CameraInfo, Image, JointState
    from tf2_msgs.msg import TFMessage
    from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg

    from vap_ros.ros.node_utils import SENSOR_QOS, STATIC_QOS, reliable_qos
    from vap_ros.ros.probe import wait_for
    from vap_ros.ros.sim_rig_node import SimRigNode

    node = ros.add(SimRigNode(context=ros.context, parameter_overrides=[
        Parameter("cameras", value=["front", "left"]),
        Parameter("width", value=64), Parameter("height", value=48),
        Parameter("camera_hz", value=10), Parameter("msaa_samples", value=0),
        Parameter("objects", value=[1, 2]),
        Parameter("randomize_cameras", value=True), Parameter("seed", value=3)]))
    client = ros.add(rclpy_node(ros, "sim_rig_test_client"))
    got: dict[str, list] = {}

    def collect(msg_type, topic, qos):
        got[topic] = []
        client.create_subscription(msg_type, topic, got[topic].append, qos)

    collect(JointState, "/joint_states", reliable_qos(50))
    collect(Image, "/front/image_raw", SENSOR_QOS)
    collect(CameraInfo, "/front/camera_info", reliable_qos(5))
    collect(TFMessage, "/tf_static", STATIC_QOS)
    pub = client.create_publisher(JointTrajectoryMsg, "/planned_trajectory", reliable_qos(5))
    wait_for(lambda: pub.get_subscription_count() > 0, what="the rig's plan subscription")
    wait_for(lambda: all(got[t] for t in got), what="first messages on every topic")
    yield node, client, pub, got
    node.close()
    ros.remove(client)
    ros.remove(node)


def rclpy_node(ros, name):
    from rclpy.node import Node

    return Node(name, context=ros.context)


def test_publishes_a_franka_rigs_topics(rig):
    from vap_ros.data import messages

    node, _, _, got = rig
    js = got["/joint_states"][-1]
    assert list(js.name) == FRANKA and len(js.effort) == 9
    img = got["/front/image_raw"][-1]
    assert (img.encoding, img.width, img.height) == ("rgb8", 64, 48)
    rgb = messages.image_from_msg(img)
    assert rgb.std() > 5  # a rendered scene, not a blank frame
    info = got["/front/camera_info"][-1]
    assert info.header.frame_id == "front_optical_frame"
    np.testing.assert_allclose(np.reshape(info.k, (3, 3)), node.cameras["front"].K)
    (tf,) = got["/tf_static"][:1]
    frames = {(t.header.frame_id, t.child_frame_id) for t in tf.transforms}
    assert frames == {("panda_link0", "front_optical_frame"),
                      ("panda_link0", "left_optical_frame")}
    from vap_ros.data.messages import tf_transforms

    T = tf_transforms(tf)[0][2]
    np.testing.assert_allclose(T, node.cameras["front"].T_base_cam, atol=1e-6)
    # Rate by design: consecutive joint-state stamps exactly 10 ms (100 Hz) of simulated time
    # apart, and they keep coming. (Wall-clock rates are benchmarked, not asserted: a loaded
    # CI machine may run the simulation behind real time.)
    from vap_ros.ros.probe import wait_for

    n0 = len(got["/joint_states"])
    wait_for(lambda: len(got["/joint_states"]) >= n0 + 60, what="60 more joint states")
    stamps = np.array([messages.stamp_ns(m.header.stamp) for m in got["/joint_states"][-50:]])
    assert np.all(np.diff(stamps) == 10_000_000)


def _plan_msg(node, goal, width, duration_s=1.0):
    from vap_ros.robot import JointTrajectory
    from vap_ros.ros import convert

    traj = JointTrajectory(node.robot.arm_joint_names, goal[None], [int(duration_s * 1e9)],
                           [width])
    return convert.trajectory_msg(traj, 0, node.robot.gripper.joints)


def test_executes_a_plan(rig):
    from vap_ros.ros.probe import wait_for
    from vap_ros.sim import HOME_Q

    node, _, pub, got = rig
    goal = HOME_Q + np.array([0.4, 0.2, 0.0, 0.3, 0.0, -0.2, 0.3])
    msg = _plan_msg(node, goal, 0.02)
    # trajectory_msg writes time_from_start relative to the first point: shift it to 1 s.
    msg.points[0].time_from_start.sec = 1
    pub.publish(msg)

    def reached():
        js = got["/joint_states"][-1]
        pos = np.asarray(js.position)
        return np.abs(pos[:7] - goal).max() < 0.01 and abs(pos[7:].sum() - 0.02) < 0.002

    wait_for(reached, what="joint states reaching the goal")
    assert node.plans_executed >= 1


@pytest.mark.parametrize("case", ["joints", "limits", "times"])
def test_bad_plans_are_refused_and_the_node_keeps_running(rig, case):
    from vap_ros.ros.probe import wait_for
    from vap_ros.sim import HOME_Q

    node, _, pub, got = rig
    msg = _plan_msg(node, HOME_Q, 0.08)
    if case == "joints":
        msg.joint_names[0] = "fr3_joint1"
        expect = "unknown joint names ['fr3_joint1']"
    elif case == "limits":
        msg.points[0].positions[3] = 0.5  # joint 4 above its upper limit -0.0698
        expect = "outside its limits"
    else:
        msg.points.append(msg.points[0])  # two points at the same time
        expect = "increase strictly"
    refused = node.plans_refused
    before = np.asarray(got["/joint_states"][-1].position)
    pub.publish(msg)
    wait_for(lambda: node.plans_refused > refused, what="the plan to be refused")
    assert node.errors.seen(expect)
    n = len(got["/joint_states"])
    wait_for(lambda: len(got["/joint_states"]) > n + 10, what="joint states to keep coming")
    after = np.asarray(got["/joint_states"][-1].position)
    assert np.abs(after[:7] - before[:7]).max() < 0.01  # and did not move
