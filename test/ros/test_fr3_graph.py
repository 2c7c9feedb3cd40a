"""A franka_ros2-style FR3 over DDS: ``fr3_*`` arm joints on /joint_states, the fingers on
/franka_gripper/joint_states, base ``fr3_link0``, a RealSense's /camera/camera/color topics.
The lookahead node with the FR3 preset and the franka_ros2 parameters
(config/fr3_lookahead_node.yaml) predicts a plan sent on the topic and one sent through the
PredictRollout action; the same rig read onto the Panda model through a joint-name map gives
the same prompts."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.ros

from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient
from rclpy.parameter import Parameter

from vap_ros.data import messages
from vap_ros.ros.graph import config_dir
from vap_ros.ros.lookahead_node import LookaheadNode
from vap_ros.ros.probe import HANG_S, Probe, predict, wait_for
from vap_ros_msgs.action import PredictRollout
from vap_ros_msgs.msg import VideoRollout

FR3_ARM = tuple(f"fr3_joint{i}" for i in range(1, 8))
FR3_GRIP = ("fr3_finger_joint1", "fr3_finger_joint2")


def fr3_params(**extra):
    """config/fr3_lookahead_node.yaml as parameter overrides (what the FR3 launch loads)."""
    doc = yaml.safe_load((config_dir() / "fr3_lookahead_node.yaml").read_text())
    params = {**doc["lookahead_node"]["ros__parameters"], "steps": 2,
              "max_input_age_s": 0.0, **extra}
    return [Parameter(k, value=v) for k, v in params.items()]


@pytest.fixture(scope="module")
def fr3(ros, tiny_model):
    robot = ros.add(Probe(ros.context, cameras=("camera",), name="franka_ros2", arm=FR3_ARM,
                          grip=FR3_GRIP, base_frame="fr3_link0",
                          image_topic="/{camera}/camera/color/image_raw",
                          info_topic="/{camera}/camera/color/camera_info",
                          gripper_topic="/franka_gripper/joint_states"))
    node = ros.add(LookaheadNode("fr3_lookahead", context=ros.context,
                                 predictor_factory=lambda p: tiny_model,
                                 parameter_overrides=fr3_params(
                                     gripper_joint_states_topic="/franka_gripper/joint_states",
                                     output_namespace="/fr3")))
    robot.collect(VideoRollout, "/fr3/camera/rollout")
    wait_for(lambda: not node.inputs.missing() and node.joints.latest is not None
             and node.joints.latest.gripper_width_m is not None
             and robot.pub_plan.get_subscription_count() > 0, what="the FR3's inputs")
    client = ActionClient(robot, PredictRollout, "/fr3/predict_rollout")
    assert client.wait_for_server(timeout_sec=HANG_S)
    return robot, node, client


def test_fr3_inputs_map_onto_the_fr3_model(fr3):
    robot, node, _ = fr3
    assert node.robot.arm_joint_names == FR3_ARM
    js = node.joints.latest
    np.testing.assert_allclose(js.arm_q, robot.q)
    assert js.gripper_width_m == pytest.approx(0.04)  # the separate gripper topic's fingers


def test_plan_on_the_topic_gives_a_rollout(fr3):
    robot, _node, _ = fr3
    plan = robot.plan()
    robot.pub_plan.publish(plan)
    msgs = wait_for(lambda: robot.received["/fr3/camera/rollout"], what="the FR3 rollout")
    m = msgs[0]
    frames, prompts, _ = messages.video_from_rollout(m)
    assert m.camera_name == "camera" and tuple(m.plan.joint_names) == FR3_ARM
    assert frames.shape[0] == prompts.shape[0] == len(m.frame_time_offsets)
    assert prompts[-1].max() > 0 and not np.array_equal(prompts[0], prompts[-1])  # it moves


def test_plan_through_the_action_gives_rollouts(fr3):
    robot, _, client = fr3
    result, status, feedback = predict(client, PredictRollout.Goal(plan=robot.plan(), seed=4))
    assert status == GoalStatus.STATUS_SUCCEEDED and result.success, result.message
    assert [r.camera_name for r in result.rollouts] == ["camera"]
    assert feedback and feedback[-1].stage == "predicting"


def test_a_name_map_reads_the_fr3_onto_the_panda_model(ros, tiny_model, fr3):
    """The same FR3 stream, read with robot: panda + joint_name_map 'fr3_*:=panda_*': the
    Panda and FR3 kinematics are the same, so the prompts are the same pixels."""
    robot, fr3_node, client = fr3
    node = ros.add(LookaheadNode("fr3_as_panda", context=ros.context,
                                 predictor_factory=lambda p: tiny_model,
                                 parameter_overrides=fr3_params(
                                     robot="panda", base_frame="fr3_link0",
                                     joint_name_map="fr3_*:=panda_*",
                                     gripper_joint_states_topic="/franka_gripper/joint_states",
                                     output_namespace="/fr3_as_panda", freeze_inputs=False)))
    try:
        # the fingers come on their own topic: until the first gripper message after the
        # first arm message, the width is unknown and the prompt draws the default opening
        wait_for(lambda: not node.inputs.missing() and node.joints.latest is not None
                 and node.joints.latest.gripper_width_m is not None,
                 what="the FR3's inputs (arm and fingers) mapped onto the Panda")
        panda_client = ActionClient(robot, PredictRollout, "/fr3_as_panda/predict_rollout")
        assert panda_client.wait_for_server(timeout_sec=HANG_S)
        # both nodes see the same frozen inputs
        for n in (node, fr3_node):
            assert n.set_parameters([Parameter("freeze_inputs", value=True)])[0].successful
        try:
            goal = PredictRollout.Goal(plan=robot.plan(), seed=2)
            a, _, _ = predict(client, goal)
            b, _, _ = predict(panda_client, goal)
        finally:
            for n in (node, fr3_node):
                n.set_parameters([Parameter("freeze_inputs", value=False)])
        assert a.success and b.success, (a.message, b.message)
        _, pa, _ = messages.video_from_rollout(a.rollouts[0])
        _, pb, _ = messages.video_from_rollout(b.rollouts[0])
        np.testing.assert_array_equal(pa, pb)
    finally:
        ros.remove(node)
