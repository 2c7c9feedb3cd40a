"""The lookahead node per rollout: its own overhead, and plan → rollout latency with the model.

Spins a real lookahead node in this process and a stand-in robot in another
(``python -m vap_ros.ros.probe``: C cameras of HxW rgb8 images at ``--camera-rate`` Hz, joint
states, CameraInfo, /tf_static) over shared-memory DDS.

- Without ``--model``, the node's model is replaced by an instant one with a preset's geometry
  (frames, size, fps), so what is timed is the node: plan received → inputs gathered and decoded
  → prompts rendered → VideoRollout messages built → published. Target: < 5 ms per rollout.
- With ``--model DIR|preset``, the node runs that model as it would live (in a model process of
  its own unless ``--in-process``), and the report puts the end-to-end time (publish a plan →
  the last camera's rollout received) beside the same model's ``predict``, loaded the same way
  and called directly on the same inputs without the node, in the same run (what
  ``vap-ros bench model`` times, with the same thread settings). Target: the node within 1.3x
  of the direct call.

Reports medians and p90 over R plans, wall clock and the CPU time of the node's threads, which
other processes on the cores do not stretch.
"""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np

HELP = "lookahead node per rollout: overhead (instant model) or plan → rollout with a model"


def add_arguments(p) -> None:
    p.add_argument("--preset", default="tiny",
                   help="world-model preset whose geometry the instant model uses")
    p.add_argument("--model", default="",
                   help="a checkpoint directory or preset to run for real (default: an instant "
                        "stand-in, to time the node alone)")
    p.add_argument("--in-process", action="store_true",
                   help="with --model: run the model in the node's process (no model process)")
    p.add_argument("--steps", type=int, default=0, help="with --model: denoising steps")
    p.add_argument("--threads", type=int, default=0, help="with --model: torch threads")
    p.add_argument("--cameras", type=int, default=3)
    p.add_argument("--camera-size", default="480x640", help="camera images HxW")
    p.add_argument("--camera-rate", type=float, default=30.0, help="images per second per camera")
    p.add_argument("--rollouts", type=int, default=30)
    p.add_argument("--joint-rate", type=float, default=500.0, help="joint states per second")


class InstantModel:
    """A stand-in world model with a preset's geometry: returns the first frame repeated."""

    def __init__(self, config) -> None:
        self.config = config

    def predict(self, first_frames, prompts, **kw):
        return np.repeat(first_frames[:, None], prompts.shape[1], axis=1)


def _pct(xs, q, scale=1e3) -> float:
    return float(np.percentile(np.asarray(xs) * scale, q)) if len(xs) else float("nan")


def _direct(model: str, first: np.ndarray, prompts: np.ndarray, repeats: int, steps: int,
            threads: int, process: bool) -> list[float]:
    """``predict`` of the same model, loaded the same way (a model process, or this process),
    on the node's own inputs, without the node."""
    from vap_ros.serve import load_predictor

    predictor, _ = load_predictor(model, process=process, threads=threads)
    kw = {"steps": steps} if steps else {}
    try:
        predictor.predict(first, prompts, seed=0, **kw)  # warm-up
        times = []
        for r in range(repeats):
            t0 = time.perf_counter()
            predictor.predict(first, prompts, seed=r, **kw)
            times.append(time.perf_counter() - t0)
    finally:
        getattr(predictor, "close", lambda: None)()
    return times


def run(args) -> dict:
    import cv2
    from rclpy.parameter import Parameter

    from vap_ros.model.config import load_preset
    from vap_ros.ros.lookahead_node import LookaheadNode
    from vap_ros.ros.probe import Probe, wait_for
    from vap_ros.ros.runtime import NodeRunner
    from vap_ros_msgs.msg import VideoRollout

    cv2.setNumThreads(1)
    h, w = (int(x) for x in args.camera_size.lower().split("x"))
    names = ["front", "left", "right", "top", "back", "side"][: args.cameras]
    params = [Parameter("cameras", value=names), Parameter("replay", value=False),
              Parameter("output_namespace", value="/bench"),
              Parameter("max_input_age_s", value=0.0)]
    if args.model:
        factory = None
        params += [Parameter("model", value=args.model),
                   Parameter("model_process", value=not args.in_process),
                   Parameter("model_threads", value=args.threads),
                   Parameter("steps", value=args.steps)]
        warmup, timeout = 2, 600.0
    else:
        cfg = load_preset(args.preset)
        factory = lambda p: (InstantModel(cfg), f"instant:{args.preset}")
        warmup, timeout = 3, 30.0
    # the robot's stream (images, CameraInfo, joint states, /tf_static) comes from another
    # process, as on a robot; this process holds the node and a light plan sender/collector
    stream = subprocess.Popen(
        [sys.executable, "-m", "vap_ros.ros.probe", "--cameras", ",".join(names), "--size",
         f"{h}x{w}", "--rate", str(args.camera_rate), "--joint-rate", str(args.joint_rate)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ros = NodeRunner().start()
    direct: list[float] = []
    try:
        probe = ros.add(Probe(ros.context, cameras=tuple(names), rate_hz=1.0, size=(h, w),
                              name="bench_probe", info=False))
        probe.stream = False
        node = ros.add(LookaheadNode("bench_lookahead", context=ros.context,
                                     predictor_factory=factory, parameter_overrides=params))
        for n in names:
            probe.collect(VideoRollout, f"/bench/{n}/rollout")
        wait_for(lambda: node.joints.latest is not None and not node.inputs.missing()
                 and probe.pub_plan.get_subscription_count() > 0, 60, "bench inputs")
        e2e = []
        for i in range(args.rollouts + warmup):
            counts = [len(probe.received[f"/bench/{n}/rollout"]) for n in names]
            t0 = time.perf_counter()
            probe.pub_plan.publish(probe.plan(delta=0.2 + 0.001 * i))
            wait_for(lambda: all(len(probe.received[f"/bench/{n}/rollout"]) > c
                                 for n, c in zip(names, counts)),  # noqa: B023
                     timeout, "the rollouts",
                     period=0.0005)
            if i >= warmup:
                e2e.append(time.perf_counter() - t0)
            wait_for(lambda: node.worker.idle, timeout, "the node to be idle", period=0.0005)
        timings = list(node.stats.timings)[warmup:]
        overhead = list(node.stats.overheads_s)[warmup:]
        if args.model:  # the same model called directly on the node's last inputs
            inputs = node._gather(node_request(node, probe), names)
            first, prompts, _, _ = node.core.prepare(inputs)
            ros.remove(node)  # its model process too: the direct run gets the same cores
            direct = _direct(args.model, first, prompts, args.rollouts, args.steps, args.threads,
                             not args.in_process)
    finally:
        ros.close()
        stream.terminate()
        stream.wait(timeout=10)
    geometry = f"{node.core.num_frames} frames x {args.cameras} cameras @ " \
               f"{node.core.width}x{node.core.height}"
    report = {
        "clip": f"{geometry} ({node.model_id}); camera images {w}x{h} rgb8 @ "
                f"{args.camera_rate:g} Hz, joint states @ {args.joint_rate:g} Hz from another "
                "process",
        "rollouts": len(e2e),
    }
    if args.model:
        where = "in the node's process" if args.in_process else "in a model process"
        report["model_runs"] = where
        report["node_plan_to_rollout_s_median"] = _pct(e2e, 50, 1.0)
        report["node_plan_to_rollout_s_p90"] = _pct(e2e, 90, 1.0)
        report["node_model_s_median"] = _pct([t["model_s"] for t in timings], 50, 1.0)
        report["direct_predict_s_median (same model loaded the same way, same inputs, no "
               "node)"] = _pct(direct, 50, 1.0)
        report["ratio_node_to_direct"] = float(np.median(e2e) / np.median(direct))
        report["target_ratio"] = 1.3
        return report
    report["node_overhead_ms_median"] = _pct(overhead, 50)
    report["node_overhead_ms_p90"] = _pct(overhead, 90)
    report["node_cpu_ms_median (node threads' CPU time, model excluded)"] = _pct(
        [t["cpu_s"] for t in timings], 50)
    for key in ("wait_s", "gather_s", "prompts_s", "messages_s", "publish_s", "model_s"):
        report[f"  {key[:-2]}_ms_median"] = _pct([t[key] for t in timings], 50)
    report["end_to_end_ms_median (publish plan -> last rollout received)"] = _pct(e2e, 50)
    report["target_node_overhead_ms"] = 5.0
    return report


def node_request(node, probe):
    """A plan request like the node builds from a message (for the direct comparison)."""
    from vap_ros.serve import RolloutRequest

    msg = probe.plan()
    return RolloutRequest("bench", node.plan_from_msg(msg), msg, None, time.monotonic())
