"""``vap-ros run``: the replay graph (bag player + lookahead + prompt nodes with their config/
parameter files, use_sim_time) started as a process, fed a synthetic bag that loops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

pytestmark = pytest.mark.ros

from rcl_interfaces.msg import Log
from rclpy.node import Node
from sensor_msgs.msg import Image

from vap_ros.data import messages
from vap_ros.errors import ConfigError
from vap_ros.ros.graph import GRAPHS, parse_overrides
from vap_ros.ros.node_utils import reliable_qos
from vap_ros.ros.probe import HANG_S, wait_for
from vap_ros.testing.bags import SyntheticRig, default_cameras, write_synthetic_bag
from vap_ros_msgs.msg import VideoRollout


def test_overrides_name_a_node_of_the_graph():
    out = parse_overrides(["lookahead_node.steps:=4", "prompt_node.rate_hz=5.0"],
                          GRAPHS["robot"])
    assert out["lookahead_node"] == [("steps", "4")] and out["prompt_node"] == [("rate_hz", "5.0")]
    with pytest.raises(ConfigError, match=r"sim_rig\.width"):
        parse_overrides(["sim_rig.width:=64"], GRAPHS["robot"])


def test_replay_graph_plays_a_looping_bag_into_the_lookahead(ros, tmp_path):
    rig = SyntheticRig(default_cameras((48, 64), ("front",)), duration_s=2.0, camera_hz=10.0,
                       joint_hz=100.0, plan_period_s=1.0)
    write_synthetic_bag(tmp_path / "bag", rig)
    client = ros.add(Node("replay_client", context=ros.context))
    got = {"rollouts": [], "prompts": [], "log": []}
    client.create_subscription(VideoRollout, "/lookahead/front/rollout", got["rollouts"].append,
                               reliable_qos(5))
    client.create_subscription(Image, "/prompt/front/image", got["prompts"].append, 5)
    client.create_subscription(Log, "/rosout", lambda m: got["log"].append(m.msg),
                               reliable_qos(100))
    cmd = [sys.executable, "-m", "vap_ros.cli", "run", "replay", "--bag", str(tmp_path / "bag"),
           "-p", "lookahead_node.cameras:=[front]", "-p", "lookahead_node.steps:=2",
           "-p", "lookahead_node.model:=tiny",
           "-p", "prompt_node.cameras:=[front]", "--duration", "120"]
    log = tmp_path / "graph.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                env=dict(os.environ, ROS_DOMAIN_ID=str(ros.domain_id)))
    try:
        def rollout_and_loop():
            assert proc.poll() is None, log.read_text()[-3000:]
            return got["rollouts"] and any("time jumped backwards" in m for m in got["log"])

        wait_for(rollout_and_loop, what="a rollout and the bag loop's time jump")
        m = got["rollouts"][0]
        stamp = messages.stamp_ns(m.header.stamp)
        assert rig.start_ns <= stamp <= rig.start_ns + 2 * 10**9  # bag time (use_sim_time)
        assert len(m.frames) == 5 and m.frames[0].width == 32
        assert messages.stamp_ns(m.plan.header.stamp) >= rig.start_ns  # the bag's plan
        wait_for(lambda: got["prompts"], what="live prompts from the replayed joint states")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(timeout=HANG_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = None
        ros.remove(client)
    assert rc == 0, log.read_text()[-3000:]
