"""Lookahead node overhead per rollout, the world model excluded.

Spins a real lookahead node in this process and a stand-in robot in another
(``python -m vap_ros.ros.probe``: C cameras of HxW rgb8 images at 30 Hz, joint states at 500 Hz,
CameraInfo, /tf_static) over shared-memory DDS. The node's model is replaced by an instant one
with a preset's geometry (frames, size, fps), so what is timed is the node: plan received →
inputs gathered and decoded → prompts rendered → VideoRollout messages built → published.
Reports the node's own timing (median and p90 over R plans, wall clock and the CPU time of its
threads, which other processes on the cores do not stretch) with its breakdown, and the
end-to-end time from publishing the plan to receiving the last camera's rollout (DDS transport
and deserialisation included). Target: the node's overhead < 5 ms per rollout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np

HELP = "lookahead node overhead per rollout, model excluded (receive → prompts → publish)"


def add_arguments(p) -> None:
    p.add_argument("--preset", default="tiny",
                   help="world-model preset whose geometry (frames, size, fps) is used")
    p.add_argument("--cameras", type=int, default=3)
    p.add_argument("--camera-size", default="480x640", help="camera images HxW")
    p.add_argument("--rollouts", type=int, default=30)
    p.add_argument("--joint-rate", type=float, default=500.0, help="joint states per second")


class InstantModel:
    """A stand-in world model with a preset's geometry: returns the first frame repeated."""

    def __init__(self, config) -> None:
        self.config = config

    def predict(self, first_frames, prompts, **kw):
        return np.repeat(first_frames[:, None], prompts.shape[1], axis=1)


def _pct(xs, q) -> float:
    return float(np.percentile(np.asarray(xs) * 1e3, q))


def run(args) -> dict:
    for k, v in (("FASTDDS_BUILTIN_TRANSPORTS", "SHM?max_msg_size=4MB&sockets_size=16MB"),
                 ("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")):
        os.environ.setdefault(k, v)
    import cv2
    from rclpy.parameter import Parameter
    from vap_ros_msgs.msg import VideoRollout

    from vap_ros.model.config import load_preset
    from vap_ros.ros.lookahead_node import LookaheadNode
    from vap_ros.ros.probe import Probe, RosHarness, wait_for

    cv2.setNumThreads(1)
    sys.setswitchinterval(0.0005)  # as lookahead_node.main does
    h, w = (int(x) for x in args.camera_size.lower().split("x"))
    cfg = load_preset(args.preset)
    names = ["front", "left", "right", "top", "back", "side"][: args.cameras]
    # the robot's stream (images, CameraInfo, joint states, /tf_static) comes from another
    # process, as on a robot; this process holds the node and a light plan sender/collector
    stream = subprocess.Popen(
        [sys.executable, "-m", "vap_ros.ros.probe", "--cameras", ",".join(names), "--size",
         f"{h}x{w}", "--rate", "30", "--joint-rate", str(args.joint_rate)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ros = RosHarness()
    try:
        probe = ros.add(Probe(ros.context, cameras=tuple(names), rate_hz=1.0, size=(h, w),
                              name="bench_probe", info=False))
        probe.stream = False
        node = ros.add(LookaheadNode(
            "bench_lookahead", context=ros.context,
            predictor_factory=lambda p: (InstantModel(cfg), f"instant:{args.preset}"),
            parameter_overrides=[Parameter("cameras", value=names),
                                 Parameter("replay", value=False),
                                 Parameter("output_namespace", value="/bench")]))
        for n in names:
            probe.collect(VideoRollout, f"/bench/{n}/rollout")
        wait_for(lambda: node.joints.latest is not None and all(
            node.inputs.image_count(n) and node.inputs.has_info(n) for n in names)
            and node.tf.frames(), 30, "bench inputs")
        e2e = []
        for i in range(args.rollouts + 3):  # 3 warm-up rollouts
            counts = [len(probe.received[f"/bench/{n}/rollout"]) for n in names]
            t0 = time.perf_counter()
            probe.pub_plan.publish(probe.plan(delta=0.2 + 0.001 * i))
            wait_for(lambda: all(len(probe.received[f"/bench/{n}/rollout"]) > c
                                 for n, c in zip(names, counts)), 30, "the rollouts",
                     period=0.0005)
            if i >= 3:
                e2e.append(time.perf_counter() - t0)
            time.sleep(0.05)
        timings = list(node.stats.timings)[3:]
        overhead = node.stats.overheads_s[3:]
    finally:
        ros.close()
        stream.terminate()
        stream.wait(timeout=10)
    report = {
        "clip": f"{cfg.num_frames} frames x {args.cameras} cameras @ {cfg.width}x{cfg.height} "
                f"(preset {args.preset}); camera images {w}x{h} rgb8 @ 30 Hz, joint states @ "
                f"{args.joint_rate:g} Hz from another process",
        "rollouts": len(overhead),
        "node_overhead_ms_median": _pct(overhead, 50),
        "node_overhead_ms_p90": _pct(overhead, 90),
    }
    report["node_cpu_ms_median (node threads' CPU time, model excluded)"] = _pct(
        [t["cpu_s"] for t in timings], 50)
    for key in ("wait_s", "gather_s", "prompts_s", "messages_s", "publish_s", "model_s"):
        report[f"  {key[:-2]}_ms_median"] = _pct([t[key] for t in timings], 50)
    report["end_to_end_ms_median (publish plan -> last rollout received)"] = _pct(e2e, 50)
    report["target_node_overhead_ms"] = 5.0
    return report
