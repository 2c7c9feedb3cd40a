#!/usr/bin/env python
"""Soak the lookahead node: minutes of 30 Hz images + 500 Hz joint states with a world model
slower than the image rate, plans every 0.5 s and the fixed-rate horizon on top.

Three processes over shared-memory DDS: a stand-in robot (``python -m vap_ros.ros.probe``), the
lookahead node (its executable's ``main``, config/lookahead_node.yaml + overrides, the real tiny
model) and this script (plans, counts rollouts, reads /diagnostics, samples the node's RSS).
Passes when the node is alive at the end, rollouts kept coming (one in the last 30 s) and the
RSS after warm-up grew by less than ``--max-growth-mb``. Opt-in (not in the test suite):

    . scripts/env.sh && .venv/bin/python scripts/soak.py --duration 300
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=300.0, help="seconds of soak")
    p.add_argument("--warmup", type=float, default=30.0, help="seconds before the RSS baseline")
    p.add_argument("--cameras", default="front,left")
    p.add_argument("--size", default="480x640", help="camera images HxW")
    p.add_argument("--image-rate", type=float, default=30.0)
    p.add_argument("--joint-rate", type=float, default=500.0)
    p.add_argument("--plan-period", type=float, default=0.5)
    p.add_argument("--steps", type=int, default=2, help="sampler steps of the tiny model")
    p.add_argument("--horizon-rate", type=float, default=30.0)
    p.add_argument("--max-growth-mb", type=float, default=30.0)
    p.add_argument("--sample-every", type=float, default=10.0)
    args = p.parse_args()

    for k, v in (("FASTDDS_BUILTIN_TRANSPORTS", "SHM?max_msg_size=4MB&sockets_size=16MB"),
                 ("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")):
        os.environ.setdefault(k, v)
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor
    from vap_ros_msgs.msg import VideoRollout

    from vap_ros.ros.node_utils import reliable_qos
    from vap_ros.ros.probe import Probe

    cams = args.cameras.split(",")
    robot = subprocess.Popen(
        [sys.executable, "-m", "vap_ros.ros.probe", "--cameras", args.cameras, "--size",
         args.size, "--rate", str(args.image_rate), "--joint-rate", str(args.joint_rate)])
    node = subprocess.Popen(
        [sys.executable, "-m", "vap_ros.ros.lookahead_node", "--ros-args", "--params-file",
         str(REPO / "config" / "lookahead_node.yaml"), "-p", f"cameras:=[{args.cameras}]",
         "-p", f"steps:={args.steps}", "-p", f"horizon_rate_hz:={args.horizon_rate}"])
    rclpy.init()
    h, w = (int(x) for x in args.size.split("x"))
    me = Probe(None, tuple(cams), rate_hz=1.0, name="soak", size=(h, w), info=False)
    me.stream = False
    rollouts: list[float] = []
    diag: dict[str, str] = {}
    me.create_subscription(VideoRollout, f"/lookahead/{cams[0]}/rollout",
                           lambda m: rollouts.append(time.monotonic()), reliable_qos(5))

    def on_diag(msg):
        for s in msg.status:
            if s.name.startswith("lookahead_node"):
                diag.clear()
                diag.update({kv.key: kv.value for kv in s.values})

    me.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 10)
    ex = SingleThreadedExecutor()
    ex.add_node(me)
    samples: list[tuple[float, float, int]] = []
    ok = True
    try:
        t0 = time.monotonic()
        next_plan = next_sample = t0
        print(f"soak: {args.duration:g} s, {len(cams)} cameras {w}x{h} @ {args.image_rate:g} Hz, "
              f"joint states @ {args.joint_rate:g} Hz, plan every {args.plan_period:g} s, "
              f"horizon {args.horizon_rate:g} Hz, tiny model with {args.steps} steps", flush=True)
        print(f"{'t_s':>6} {'rss_mb':>8} {'rollouts':>8} {'rate_hz':>8} {'infer_ms':>9} "
              f"{'dropped':>8} {'img_hz':>7} {'js_hz':>7}  last_error", flush=True)
        while time.monotonic() - t0 < args.duration:
            ex.spin_once(timeout_sec=0.01)
            now = time.monotonic()
            if node.poll() is not None or robot.poll() is not None:
                print(f"soak: FAIL: a process exited (node rc {node.poll()}, robot rc "
                      f"{robot.poll()})", flush=True)
                ok = False
                break
            if now >= next_plan:
                me.q = me.q * 0 + [0.0, -0.3, 0.0, -2.2, 0.0, 2.0, 0.8]
                me.pub_plan.publish(me.plan(delta=0.1 + 0.1 * ((now - t0) % 3)))
                next_plan += args.plan_period
            if now >= next_sample:
                rss = rss_mb(node.pid)
                samples.append((now - t0, rss, len(rollouts)))
                print(f"{now - t0:6.0f} {rss:8.1f} {len(rollouts):8d} "
                      f"{diag.get('rollout_rate_hz', '-'):>8} {diag.get('inference_ms', '-'):>9} "
                      f"{diag.get('dropped_requests', '-'):>8} "
                      f"{diag.get('image_rate_hz', '-'):>7} "
                      f"{diag.get('joint_state_rate_hz', '-'):>7}  "
                      f"{diag.get('last_error', '')[:80]}", flush=True)
                next_sample += args.sample_every
    finally:
        alive = node.poll() is None
        for proc in (node, robot):
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        me.destroy_node()
        rclpy.shutdown()
    base = [s for s in samples if s[0] >= args.warmup]
    if not base:
        print("soak: FAIL: too short for a baseline after warm-up")
        return 1
    growth = base[-1][1] - base[0][1]
    recent = rollouts and time.monotonic() - rollouts[-1] < 30
    print(f"soak: RSS after warm-up {base[0][1]:.1f} MB at {base[0][0]:.0f} s -> "
          f"{base[-1][1]:.1f} MB at {base[-1][0]:.0f} s (growth {growth:+.1f} MB, peak "
          f"{max(s[1] for s in base):.1f} MB); {len(rollouts)} rollouts on /lookahead/"
          f"{cams[0]}/rollout; node alive at the end: {alive}")
    ok = ok and alive and bool(recent) and growth < args.max_growth_mb
    print("soak: PASS" if ok else "soak: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
