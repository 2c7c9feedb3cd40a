"""Integration: the simulated rig node (its own process, MuJoCo) + the lookahead node (this
process, real tiny world model) over shared-memory DDS.

Publish a plan → the rig executes it and a VideoRollout per camera arrives with the model's frame
count and size, stamped with one of the rig's image stamps, carrying the plan; the action
answers the same for the same seed."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

pytestmark = [pytest.mark.ros, pytest.mark.mujoco]

from rclpy.action import ActionClient
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg

from vap_ros.data import messages
from vap_ros.robot import JointTrajectory
from vap_ros.ros import convert
from vap_ros.ros.lookahead_node import LookaheadNode
from vap_ros.ros.node_utils import SENSOR_QOS, reliable_qos
from vap_ros.ros.probe import ARM, HANG_S, predict, wait_for
from vap_ros_msgs.action import PredictRollout
from vap_ros_msgs.msg import VideoRollout

CAMS = ["front", "left"]


@pytest.fixture(scope="module")
def sim_rig_process(tmp_path_factory, ros):
    log = tmp_path_factory.mktemp("sim_rig") / "sim_rig.log"
    cmd = [sys.executable, "-m", "vap_ros.ros.sim_rig_node", "--ros-args",
           "-p", f"cameras:=[{','.join(CAMS)}]", "-p", "width:=64", "-p", "height:=48",
           "-p", "camera_hz:=10", "-p", "msaa_samples:=0", "-p", "objects:=[1,1]",
           "-p", "seed:=1"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                env=dict(os.environ, ROS_DOMAIN_ID=str(ros.domain_id)))
    yield proc, log
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def graph(ros, tiny_model, sim_rig_process):
    proc, log = sim_rig_process
    node = ros.add(LookaheadNode(
        context=ros.context, predictor_factory=lambda p: tiny_model,
        parameter_overrides=[Parameter("cameras", value=CAMS), Parameter("steps", value=2),
                             # the rig stamps images with simulated time, which lags the node
                             # clock on a loaded machine: age checks are not under test here
                             Parameter("max_input_age_s", value=0.0)]))
    client = ros.add(Node("sim_lookahead_client", context=ros.context))
    got: dict[str, list] = {}
    for cam in CAMS:
        got[cam] = []
        client.create_subscription(VideoRollout, f"/lookahead/{cam}/rollout", got[cam].append,
                                   reliable_qos(5))
    got["stamps"] = []
    client.create_subscription(Image, "/front/image_raw",
                               lambda m: got["stamps"].append(messages.stamp_ns(m.header.stamp)),
                               SENSOR_QOS)
    pub = client.create_publisher(JointTrajectoryMsg, "/planned_trajectory", reliable_qos(5))

    def ready():
        assert proc.poll() is None, f"sim rig exited: {log.read_text()[-2000:]}"
        return (pub.get_subscription_count() >= 2 and node.joints.latest is not None
                and all(node.inputs.image_count(c) and node.inputs.has_info(c) for c in CAMS)
                and node.tf.frames())

    wait_for(ready, what="the sim rig's topics reaching the lookahead node")
    service = ActionClient(client, PredictRollout, "/lookahead/predict_rollout")
    assert service.wait_for_server(timeout_sec=HANG_S)
    return node, pub, service, got


def plan_from_current(node, delta=0.25, duration_s=1.0, points=5) -> JointTrajectoryMsg:
    q0 = node.joints.latest.arm_q
    t = np.linspace(0.0, duration_s, points)
    q = q0 + np.outer(t / duration_s, [delta, -delta, delta, delta, 0.0, delta, delta])
    return convert.trajectory_msg(JointTrajectory(ARM, q, (t * 1e9).astype(np.int64)))


def test_plan_to_rollouts_from_the_sim_rig(graph, tiny_model):
    node, pub, _, got = graph
    cfg = tiny_model[0].config
    plan = plan_from_current(node)
    pub.publish(plan)
    wait_for(lambda: all(got[c] for c in CAMS), what="a VideoRollout per camera")
    for cam in CAMS:
        m = got[cam][0]
        frames, prompts, offsets = messages.video_from_rollout(m)
        assert m.camera_name == cam and m.header.frame_id == f"{cam}_optical_frame"
        assert frames.shape == prompts.shape == (cfg.num_frames, cfg.height, cfg.width, 3)
        np.testing.assert_array_equal(offsets, np.round(np.arange(cfg.num_frames)
                                                        * 1e9 / cfg.fps))
        assert tuple(m.plan.joint_names) == ARM and len(m.plan.points) == len(plan.points)
        np.testing.assert_allclose(m.plan.points[-1].positions, plan.points[-1].positions)
        assert prompts[-1].max() > 0 and not np.array_equal(prompts[0], prompts[-1])
    # stamped with an image the rig really published
    assert messages.stamp_ns(got["front"][0].header.stamp) in got["stamps"]


def test_action_same_seed_same_video(graph):
    node, _, service, _ = graph
    # the rig keeps publishing new images: keep the conditioning inputs fixed to compare
    node.set_parameters([Parameter("freeze_inputs", value=True)])
    freeze = {c: node.inputs.image_stamp_ns(c) for c in CAMS}
    try:
        goal = PredictRollout.Goal(plan=plan_from_current(node), seed=3)
        results = [predict(service, goal)[0] for _ in range(2)]
    finally:
        node.set_parameters([Parameter("freeze_inputs", value=False)])
    a, b = results
    assert a.success and b.success, (a.message, b.message)
    assert [r.camera_name for r in a.rollouts] == CAMS
    assert all(v is not None for v in freeze.values())
    for ra, rb in zip(a.rollouts, b.rollouts):
        fa, pa, _oa = messages.video_from_rollout(ra)
        fb, pb, _ob = messages.video_from_rollout(rb)
        np.testing.assert_array_equal(fa, fb)
        np.testing.assert_array_equal(pa, pb)
        assert ra.header.stamp == rb.header.stamp
