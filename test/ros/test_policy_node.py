"""The policy node (vap_ros/ros/policy_node.py) against the simulated rig node (its own
process, MuJoCo) over shared-memory DDS.

The trained model is replaced by a fake joint model whose action images show the tool at a
fixed target in every frame (as test/policy/test_policy.py does): what is checked is the
plumbing — images + calibration + joint state + goal images in, the decoded, IK'd plan out on
the plan topic (joint names, increasing time_from_start, moving toward the target), the error
cases, and that by default nothing is published where a controller (or the rig) listens."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from vap_ros.errors import ConfigError

pytestmark = [pytest.mark.ros, pytest.mark.mujoco]

from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Empty
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg

from vap_ros.ros import convert
from vap_ros.ros.node_utils import SENSOR_QOS, reliable_qos
from vap_ros.ros.policy_node import DEFAULT_PLAN_TOPIC, PolicyNode, looks_like_controller
from vap_ros.ros.probe import ARM, GRIP, wait_for

CAMS = ["front", "left"]
TARGET = np.array([0.45, 0.12, 0.25])
DRIVE_TARGET = np.array([0.40, -0.15, 0.30])  # the test that moves the arm: 0.28 m away


class GoToTarget:
    """A joint model: predict_joint -> action images of the tool at TARGET (top-down) in every
    frame, drawn through the node's own cameras at the model size."""

    def __init__(self, node_cams, target=TARGET):
        from vap_ros.model.config import load_preset

        self.config = load_preset("tiny", conditioning="none", generate_actions="action_images")
        self.node_cams = node_cams  # () -> the node's calibrated cameras
        self.target = target
        self.calls: list[tuple] = []

    def predict_joint(self, images, action_state, goal, steps=None, seed=0):
        from vap_ros.prompts import ActionImageCodec
        from vap_ros.sim.ik import top_down

        c = self.config
        self.calls.append((images.shape, action_state.shape, goal.shape))
        cams = [cam.scaled(c.width, c.height) for cam in self.node_cams()]
        T = top_down(self.target, 0.0)
        acts = ActionImageCodec().encode(np.repeat(T[None], c.num_frames, 0),
                                         np.ones(c.num_frames, bool), cams)
        return np.repeat(images[:, None], c.num_frames, 1), acts


def fake_factory(holder, target=TARGET):
    def factory(params, robot):
        from vap_ros.policy import ActionImagePolicy

        fake = GoToTarget(lambda: holder["node"].inputs.cameras(), target)
        holder["fake"] = fake
        return ActionImagePolicy(fake, robot, seed=params.seed), "fake-go-to-target"
    return factory


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


def make_node(ros, name, factory=None, cams=CAMS, target=TARGET, **params):
    holder: dict = {}
    overrides = [Parameter("cameras", value=list(cams)), Parameter("rate_hz", value=0.0)]
    overrides += [Parameter(k, value=v) for k, v in params.items()]
    node = ros.add(PolicyNode(name, context=ros.context,
                              policy_factory=factory or fake_factory(holder, target),
                              parameter_overrides=overrides))
    holder["node"] = node
    return node, holder


@pytest.fixture(scope="module")
def rig(ros, sim_rig_process):
    """The rig running, a client with goal publishers, plan subscribers and a trigger."""
    proc, log = sim_rig_process
    client = ros.add(Node("policy_test_client", context=ros.context))
    got: dict[str, list] = {"plans": [], "commands": [], "images": {c: [] for c in CAMS},
                            "joints": []}
    client.create_subscription(JointTrajectoryMsg, DEFAULT_PLAN_TOPIC, got["plans"].append,
                               reliable_qos(10))
    client.create_subscription(JointTrajectoryMsg, "/planned_trajectory",
                               got["commands"].append, reliable_qos(10))
    client.create_subscription(JointState, "/joint_states", got["joints"].append,
                               reliable_qos(10))
    for c in CAMS:
        client.create_subscription(Image, f"/{c}/image_raw", got["images"][c].append, SENSOR_QOS)
    wait_for(lambda: (proc.poll() is None or pytest.fail(log.read_text()[-2000:]))
             and all(got["images"][c] for c in CAMS) and got["joints"],
             what="the sim rig's images and joint states")
    return client, got


def goal_publishers(client, ns="/vap_ros/policy"):
    return {c: client.create_publisher(Image, f"{ns}/{c}/goal", reliable_qos(1, latched=True))
            for c in CAMS}


def ready(node):
    return (node.joints.latest is not None and not node.inputs.missing())


def tcp(q):
    from vap_ros.robot import RobotModel

    robot = RobotModel.from_preset("panda")
    return robot.tcp_poses(np.atleast_2d(q), np.zeros(len(np.atleast_2d(q))))[:, :3, 3]


def test_plan_from_the_sim_rig_moves_toward_the_target(ros, rig):
    client, got = rig
    node, holder = make_node(ros, "policy_node")
    wait_for(lambda: ready(node), what="the rig's inputs reaching the policy node")
    pubs = goal_publishers(client)
    for c in CAMS:  # any picture of the cameras' size serves as the goal here
        pubs[c].publish(got["images"][c][-1])
    trigger = client.create_publisher(Empty, "/vap_ros/policy/plan_now", reliable_qos(5))
    wait_for(lambda: len(node._goals) == len(CAMS) and trigger.get_subscription_count(),
             what="the goal images and the plan_now subscription")
    q_now = node.joints.latest.arm_q.copy()
    n_plans, n_commands = len(got["plans"]), len(got["commands"])
    trigger.publish(Empty())
    wait_for(lambda: len(got["plans"]) > n_plans, what="a plan on " + DEFAULT_PLAN_TOPIC)
    plan = got["plans"][n_plans]
    fake = holder["fake"]
    assert fake.calls and fake.calls[0] == ((2, 32, 32, 3),) * 3  # resized to the model's
    assert list(plan.joint_names) == list(ARM) + list(GRIP)
    t = np.array([p.time_from_start.sec * 10**9 + p.time_from_start.nanosec
                  for p in plan.points])
    assert t[0] == 0 and np.all(np.diff(t) > 0), t
    assert len(plan.points) == fake.config.num_frames  # now + T - 1 decoded frames
    q = np.array([p.positions[:7] for p in plan.points])
    np.testing.assert_allclose(q[0], q_now, atol=0.05)  # starts where the arm is
    d = np.linalg.norm(tcp(q) - TARGET, axis=1)
    assert d[-1] < 0.02 and d[-1] < d[0] - 0.05, d  # ends at the fake model's target
    # the default plan topic is nobody's command topic: the rig got nothing
    assert len(got["commands"]) == n_commands
    assert client.count_publishers("/planned_trajectory") == 0
    ros.remove(node)


def test_default_plan_topic_is_not_a_controller(ros):
    from vap_ros.ros.policy_node import PolicyParams

    assert PolicyParams().plan_topic == DEFAULT_PLAN_TOPIC
    assert not looks_like_controller(DEFAULT_PLAN_TOPIC)
    for t in ("/fr3_arm_controller/joint_trajectory", "/planned_trajectory",
              "/joint_trajectory_controller/joint_trajectory"):
        assert looks_like_controller(t)
    node, _ = make_node(ros, "policy_node_topics")
    topics = {name for name, _ in node.get_publisher_names_and_types_by_node(
        node.get_name(), node.get_namespace())}
    trajectory_topics = {name for name, types in node.get_publisher_names_and_types_by_node(
        node.get_name(), node.get_namespace()) if "trajectory_msgs/msg/JointTrajectory" in types}
    assert trajectory_topics == {DEFAULT_PLAN_TOPIC}, topics
    ros.remove(node)


def test_bad_inputs_are_one_line_each_and_the_node_keeps_running(ros, rig):
    client, _ = rig
    node, _ = make_node(ros, "policy_node_bad", goal_namespace="/bad")
    wait_for(lambda: ready(node), what="the rig's inputs reaching the policy node")
    with pytest.raises(Exception, match="no goal image yet on /bad/front/goal"):
        node.plan_once()
    node._plan_guarded()  # the timer's / trigger's path: logged, not raised
    assert node.errors.seen("no goal image yet on /bad/front/goal")
    pubs = goal_publishers(client, "/bad")
    small = np.zeros((10, 20, 3), np.uint8)
    for c in CAMS:
        pubs[c].publish(convert.image_msg(small, 0, f"{c}_optical_frame"))
    wait_for(lambda: len(node._goals) == len(CAMS), what="the wrong-size goals")
    node._plan_guarded()
    assert node.errors.seen("goal image on /bad/front/goal is 20x10: expected the camera's "
                            "64x48 or the model's 32x32")
    for c in CAMS:  # the model's size is fine too: the node recovers
        pubs[c].publish(convert.image_msg(np.zeros((32, 32, 3), np.uint8), 0,
                                          f"{c}_optical_frame"))
    wait_for(lambda: all(node._goals[c].width == 32 for c in CAMS),
             what="the model-size goals of every camera")
    assert node.plan_once().points
    ros.remove(node)

    # a camera that does not exist on the rig: named in the error, the node keeps running
    node, _ = make_node(ros, "policy_node_nocam", cams=["front", "wrist"])
    node._plan_guarded()
    assert node.errors.seen("camera 'wrist': no CameraInfo received on /wrist/camera_info")
    ros.remove(node)


def test_a_model_that_is_not_a_joint_model_is_one_clear_error(ros):
    from vap_ros.model import WorldModel
    from vap_ros.policy import ActionImagePolicy

    def not_joint(params, robot):
        return ActionImagePolicy(WorldModel.from_preset("tiny", seed=0), robot), "tiny"

    node, _ = make_node(ros, "policy_node_model", factory=not_joint)
    assert node.policy is None and "generate_actions" in node.model_error
    assert node.errors.seen("needs a model that generates actions")
    node._plan_guarded()  # keeps running: each request says why it cannot plan
    assert node.errors.counts["model"] >= 1 and node.errors.counts["input"] >= 1
    ros.remove(node)


def test_pointed_at_the_rigs_command_topic_the_arm_moves(ros, rig):
    """The user's explicit choice: plan_topic := the rig's command topic executes the plan."""
    client, got = rig
    node, _ = make_node(ros, "policy_node_drive", plan_topic="/planned_trajectory",
                        goal_namespace="/drive", target=DRIVE_TARGET)
    wait_for(lambda: ready(node), what="the rig's inputs reaching the policy node")
    pubs = goal_publishers(client, "/drive")
    for c in CAMS:
        pubs[c].publish(got["images"][c][-1])
    wait_for(lambda: len(node._goals) == len(CAMS), what="the goal images")
    start = tcp(node.joints.latest.arm_q)[0]
    n_commands = len(got["commands"])
    msg = node.plan_once()
    duration = msg.points[-1].time_from_start
    wait_for(lambda: len(got["commands"]) > n_commands,
             what="the plan on the rig's command topic")

    def arrived():
        d = np.linalg.norm(tcp(node.joints.latest.arm_q)[0] - DRIVE_TARGET)
        return d < 0.03
    wait_for(arrived, what=f"the arm reaching the target (plan {duration.sec} s)")
    assert np.linalg.norm(start - DRIVE_TARGET) > 0.05
    ros.remove(node)


def test_parameter_file_holds_declared_parameters():
    import yaml

    from vap_ros.ros.policy_node import PolicyParams

    path = os.path.join(os.path.dirname(__file__), "..", "..", "config", "policy_node.yaml")
    with open(path) as f:
        doc = yaml.safe_load(f)
    assert list(doc) == ["policy_node"]
    params = doc["policy_node"]["ros__parameters"]
    assert set(params) <= set(PolicyParams.field_names())
    p = PolicyParams.from_dict({**PolicyParams.defaults(), **params}, source=path)
    assert p.plan_topic == DEFAULT_PLAN_TOPIC and not looks_like_controller(p.plan_topic)
    assert p.planner == "generate"
    with pytest.raises(ConfigError, match="planner"):
        PolicyParams.from_dict({**PolicyParams.defaults(), "planner": "dream"}, source=path)
    with pytest.raises(ConfigError, match="guidance_scale"):
        PolicyParams.from_dict({**PolicyParams.defaults(), "guidance_scale": 0.0}, source=path)
