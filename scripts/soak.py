#!/usr/bin/env python
"""Soak the lookahead node: a long run of camera images and joint states at robot rates, plans
arriving while earlier ones still run, and the fixed-rate horizon on top, with the shipped model.

Three processes (four with the node's model process) over shared-memory DDS: a stand-in robot
(``python -m vap_ros.ros.probe``: C cameras of HxW rgb8 at ``--image-rate``, joint states at
``--joint-rate``), the lookahead node (its executable's ``main`` with config/lookahead_node.yaml
and overrides) and this script (sends plans, counts rollouts, reads /diagnostics, samples the
RSS of the node and its model process).

Passes when the node is alive at the end, rollouts kept coming (one in the last 30 s), the RSS
after warm-up grew by less than ``--max-growth-mb``, and no plan's rollout arrived after that
plan's end (a lookahead that shows the past is useless). Opt-in, not in the test suite:

    . scripts/env.sh && .venv/bin/python scripts/soak.py --duration 1800
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
NS = 1_000_000_000


def rss_mb(pid: int) -> float:
    """RSS of ``pid`` and its children (the node's model process), MB."""
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs) / 2**20
    except psutil.Error:
        return float("nan")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=1800.0, help="seconds of soak")
    p.add_argument("--warmup", type=float, default=60.0, help="seconds before the RSS baseline")
    p.add_argument("--cameras", default="front,left,right")
    p.add_argument("--size", default="480x640", help="camera images HxW")
    p.add_argument("--image-rate", type=float, default=30.0)
    p.add_argument("--joint-rate", type=float, default=1000.0)
    p.add_argument("--model", default=str(REPO / "models" / "vap_small_sim"))
    p.add_argument("--steps", type=int, default=0, help="sampler steps (0: the model's)")
    p.add_argument("--plan-period", type=float, default=4.0, help="a new plan every ... s")
    p.add_argument("--plan-duration", type=float, default=8.0, help="each plan lasts ... s")
    p.add_argument("--horizon-rate", type=float, default=1.0)
    p.add_argument("--max-growth-mb", type=float, default=50.0)
    p.add_argument("--sample-every", type=float, default=30.0)
    args = p.parse_args()

    for k, v in (("FASTDDS_BUILTIN_TRANSPORTS", "SHM?max_msg_size=4MB&sockets_size=16MB"),
                 ("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")):
        os.environ.setdefault(k, v)
    from diagnostic_msgs.msg import DiagnosticArray

    from vap_ros.data import messages
    from vap_ros.ros.node_utils import reliable_qos
    from vap_ros.ros.probe import HOME, Probe
    from vap_ros.ros.runtime import NodeRunner
    from vap_ros_msgs.msg import VideoRollout

    # a killed soak still stops its children (the probe, the node and its model process)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cams = args.cameras.split(",")
    robot = subprocess.Popen(
        [sys.executable, "-m", "vap_ros.ros.probe", "--cameras", args.cameras, "--size",
         args.size, "--rate", str(args.image_rate), "--joint-rate", str(args.joint_rate)])
    node = subprocess.Popen(
        [sys.executable, "-m", "vap_ros.ros.lookahead_node", "--ros-args", "--params-file",
         str(REPO / "config" / "lookahead_node.yaml"), "-p", f"cameras:=[{args.cameras}]",
         "-p", f"model:={args.model}", "-p", f"steps:={args.steps}",
         "-p", f"horizon_rate_hz:={args.horizon_rate}"])
    runner = NodeRunner(num_threads=2)
    h, w = (int(x) for x in args.size.split("x"))
    me = runner.add(Probe(runner.context, tuple(cams), rate_hz=1.0, name="soak", size=(h, w),
                          info=False))
    me.stream = False
    rollouts: list[tuple[int, object]] = []  # (arrival ns, message) of the first camera
    diag: dict[str, str] = {}
    me.create_subscription(VideoRollout, f"/lookahead/{cams[0]}/rollout",
                           lambda m: rollouts.append((me.now_ns(), m)), reliable_qos(5))

    def on_diag(msg):
        for s in msg.status:
            if s.name.startswith("lookahead_node"):
                diag.clear()
                diag.update({kv.key: kv.value for kv in s.values})

    me.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 10)
    samples: list[tuple[float, float, int]] = []
    plans_sent = 0
    ok = True
    try:
        t0 = time.monotonic()
        next_plan = next_sample = t0
        print(f"soak: {args.duration:g} s, {len(cams)} cameras {w}x{h} @ {args.image_rate:g} Hz, "
              f"joint states @ {args.joint_rate:g} Hz, a {args.plan_duration:g} s plan every "
              f"{args.plan_period:g} s, horizon {args.horizon_rate:g} Hz, model {args.model}",
              flush=True)
        print(f"{'t_s':>6} {'rss_mb':>8} {'rollouts':>8} {'rate_hz':>8} {'infer_ms':>9} "
              f"{'dropped':>8} {'img_hz':>7} {'js_hz':>7}  last_error", flush=True)
        while time.monotonic() - t0 < args.duration:
            runner.spin_once(0.01)
            now = time.monotonic()
            if node.poll() is not None or robot.poll() is not None:
                print(f"soak: FAIL: a process exited (node rc {node.poll()}, robot rc "
                      f"{robot.poll()})", flush=True)
                ok = False
                break
            if now >= next_plan:
                me.q = HOME.copy()
                me.pub_plan.publish(me.plan(duration_s=args.plan_duration, points=20,
                                            delta=0.1 + 0.1 * (plans_sent % 3)))
                plans_sent += 1
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
        runner.close()
    base = [s for s in samples if s[0] >= args.warmup]
    if not base:
        print("soak: FAIL: too short for a baseline after warm-up")
        return 1
    growth = base[-1][1] - base[0][1]
    recent = rollouts and me.now_ns() - rollouts[-1][0] < 30 * NS
    # each plan's first rollout must arrive before that plan ends (later "continue the plan"
    # rollouts of the horizon timer may finish after it; they are counted, not failed)
    first: dict[int, float] = {}
    later_late = 0
    for arrival, m in rollouts:
        pts = m.plan.points
        if all(list(pt.positions) == list(pts[0].positions) for pt in pts):
            continue  # hold still: the current pose over the horizon, no plan end
        start = messages.stamp_ns(m.plan.header.stamp)
        margin = (start + messages.duration_ns(pts[-1].time_from_start) - arrival) / NS
        if start in first:
            later_late += margin < 0
        else:
            first[start] = margin
    lateness = [-x for x in first.values()]
    late = [x for x in lateness if x > 0]
    latency = [messages.duration_ns(m.inference_time) / NS for _, m in rollouts]
    print(f"soak: RSS (node + model process) after warm-up {base[0][1]:.1f} MB at "
          f"{base[0][0]:.0f} s -> {base[-1][1]:.1f} MB at {base[-1][0]:.0f} s (growth "
          f"{growth:+.1f} MB, peak {max(s[1] for s in base):.1f} MB); {plans_sent} plans sent, "
          f"{len(rollouts)} rollouts on /lookahead/{cams[0]}/rollout; {len(first)} plans' first "
          f"rollouts: {len(late)} after their plan's end, worst margin "
          f"{-max(lateness) if lateness else float('nan'):.2f} s before it; {later_late} later "
          f"continue-the-plan rollouts after their plan's end; "
          f"{diag.get('superseded_plans', '?')} plans superseded by a newer one before their "
          f"rollout, {diag.get('preempted_horizon', '?')} horizon rollouts preempted; model "
          f"{np.median(latency) if latency else float('nan'):.2f} s per rollout (median); node "
          f"alive at the end: {alive}")
    ok = ok and alive and bool(recent) and growth < args.max_growth_mb and not late
    print("soak: PASS" if ok else "soak: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
