"""``vap-ros demo``: the live loop on the simulated rig, end to end.

1. The simulated rig node runs in its own process (real time, publishing cameras, joint states
   and /tf_static; it executes plans from /planned_trajectory).
2. In this process, the lookahead node (the shipped model) and a small driver node are spun
   by a multi-threaded executor.
3. The driver plans a scripted task in the rig's scene (the same layout, rebuilt from the
   rig's seed) and publishes it. The lookahead node predicts each camera's video of the plan
   from the newest images, and again every ``horizon_s`` while the plan runs ("continue the
   plan"). Meanwhile the rig executes the plan and the driver records what really happened.
4. Per camera, the driver writes a side-by-side video (predicted | what really happened |
   prompt) as MP4 and GIF, plus ``metrics.json``: PSNR, SSIM and gripper-region PSNR of the
   prediction and of a copy-first-frame baseline against the real frames, and the latency.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vap_ros.errors import VapError
from vap_ros.serve.predictor import shipped_model_dir

__all__ = ["DemoSettings", "run_demo"]

NS = 1_000_000_000


@dataclass
class DemoSettings:
    """Options of the demo run."""

    out: Path
    model: str = ""  # checkpoint dir; "" = the shipped default model
    task: str = "pick_place"
    seed: int = 7
    cameras: tuple[str, ...] = ("front", "left", "right")
    camera_hz: int = 10
    steps: int = 0  # 0 = the model's default
    device: str = "cpu"  # torch device of the lookahead node's model
    dtype: str = "float32"  # float32 | bfloat16 | float16
    horizon_s: float = 0.0  # 0 = the model's clip length (rollouts tile the plan)
    scale: int = 4  # upscaling of the side-by-side videos
    timeout_s: float = 240.0
    extra: dict = field(default_factory=dict)


class _Recorder:
    """Driver node: records images, joint states and rollouts; publishes the plan."""

    def __init__(self, context, cameras: Sequence[str]) -> None:
        from rclpy.node import Node
        from sensor_msgs.msg import Image, JointState
        from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg

        from vap_ros.ros.node_utils import SENSOR_QOS, reliable_qos
        from vap_ros_msgs.msg import VideoRollout

        self.node = Node("vap_demo_driver", context=context)
        self.lock = threading.Lock()
        self.images: dict[str, list[tuple[int, np.ndarray]]] = {c: [] for c in cameras}
        self.joint_states: list[tuple[int, list[str], np.ndarray]] = []
        self.rollouts: list[tuple[float, Any]] = []  # (arrival, VideoRollout)
        for c in cameras:
            self.node.create_subscription(Image, f"/{c}/image_raw",
                                          lambda m, c=c: self._on_image(c, m), SENSOR_QOS)
        self.node.create_subscription(JointState, "/joint_states", self._on_js, reliable_qos(50))
        for c in cameras:
            self.node.create_subscription(VideoRollout, f"/lookahead/{c}/rollout",
                                          self._on_rollout, reliable_qos(20))
        self.plan_pub = self.node.create_publisher(JointTrajectoryMsg, "/planned_trajectory",
                                                   reliable_qos(5))

    def _on_image(self, cam, msg):
        from vap_ros.data.messages import image_from_msg, stamp_ns

        with self.lock:
            self.images[cam].append((stamp_ns(msg.header.stamp), image_from_msg(msg).copy()))

    def _on_js(self, msg):
        from vap_ros.data.messages import stamp_ns

        with self.lock:
            self.joint_states.append((stamp_ns(msg.header.stamp), list(msg.name),
                                      np.asarray(msg.position, np.float64)))

    def _on_rollout(self, msg):
        with self.lock:
            self.rollouts.append((time.monotonic(), msg))

    def latest_state(self):
        with self.lock:
            return self.joint_states[-1] if self.joint_states else None

    def ready(self) -> bool:
        with self.lock:
            return bool(self.joint_states) and all(len(v) >= 3 for v in self.images.values())

    def covers_rollouts(self, cameras) -> bool:
        """Every camera has a rollout, and for every rollout received the recording holds a
        frame at (or after) its last predicted frame's time."""
        from vap_ros.data.messages import duration_ns, stamp_ns

        with self.lock:
            rollouts = [m for _, m in self.rollouts]
            newest = {c: v[-1][0] for c, v in self.images.items() if v}
        if any(not any(m.camera_name == c for m in rollouts) for c in cameras):
            return False
        for m in rollouts:
            last = stamp_ns(m.header.stamp) + duration_ns(m.frame_time_offsets[-1])
            if newest.get(m.camera_name, -1) < last:
                return False
        return True


def _rig_overrides(settings: DemoSettings, size: tuple[int, int]) -> dict:
    """The sim rig parameters the demo sets on top of config/sim_rig.yaml."""
    return {"seed": settings.seed, "cameras": list(settings.cameras), "width": size[1],
            "height": size[0], "camera_hz": int(settings.camera_hz)}


def _start_rig(settings: DemoSettings, size: tuple[int, int], log_path: Path):
    import yaml

    from vap_ros.ros.graph import SIM_RIG, node_cli_args

    args = node_cli_args(SIM_RIG, overrides=[  # values as YAML flow (lists: [a, b])
        (k, yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("\n...").strip())
        for k, v in _rig_overrides(settings, size).items()])
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "vap_ros.ros.sim_rig_node", *args],
                            stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
    return proc, log


def _plan(settings: DemoSettings, size, q0: np.ndarray, width0: float):
    """The scripted task in the rig's own scene (layout rebuilt from the rig's seed)."""
    import yaml

    from vap_ros.robot import RobotModel
    from vap_ros.ros.graph import SIM_RIG, config_dir
    from vap_ros.ros.sim_rig_node import SimRigParams, scene_config
    from vap_ros.sim.layout import sample_layout
    from vap_ros.sim.tasks import plan_task

    # the rig's own parameters: its parameter file + the demo's overrides (_start_rig)
    doc = yaml.safe_load((config_dir() / SIM_RIG.params_file).read_text())
    params = {**doc[SIM_RIG.name]["ros__parameters"], **_rig_overrides(settings, size)}
    cfg = scene_config(SimRigParams.from_dict(params))
    layout = sample_layout(cfg, np.random.default_rng(settings.seed))
    robot = RobotModel.from_preset(cfg.robot)
    task = plan_task(settings.task, layout, robot, np.random.default_rng(settings.seed + 1),
                     q0=q0, width0_m=width0)
    return task, robot, layout


def run_demo(settings: DemoSettings, progress=print) -> dict:
    """Run the live demo; returns the metrics dict (also written to ``out/metrics.json``).

    Every wait is on a condition (the rig's first images, the lookahead's inputs, matched plan
    subscriptions, the plan executed, every rollout covered by recorded frames), bounded only
    by ``settings.timeout_s`` as a hang detector: a cold machine (MuJoCo/EGL start-up, first
    imports, first model load) only makes the demo slower, never emptier.
    """
    from vap_ros.ros import convert
    from vap_ros.ros.graph import LOOKAHEAD, node_cli_args
    from vap_ros.ros.lookahead_node import LookaheadNode
    from vap_ros.ros.runtime import NodeRunner, wait_until

    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    model_dir = settings.model or str(shipped_model_dir())
    timeout = settings.timeout_s
    runner = NodeRunner(num_threads=4)
    rig = rig_log = None
    try:
        progress(f"[1/5] loading the world model from {model_dir}")
        overrides = [("model", model_dir), ("cameras", "[" + ",".join(settings.cameras) + "]"),
                     ("seed", str(settings.seed)), ("steps", str(settings.steps)),
                     ("device", settings.device), ("dtype", settings.dtype),
                     # the rig stamps images with simulated time, which lags the node clock
                     # when the machine is loaded: no age limit (the rig is local)
                     ("horizon_rate_hz", "0.0"), ("max_input_age_s", "0.0"),
                     ("startup_wait_s", str(timeout))]
        look = runner.add(LookaheadNode(LOOKAHEAD.name, context=runner.context,
                                        cli_args=node_cli_args(LOOKAHEAD, overrides=overrides)))
        size = (look.core.height, look.core.width)
        fps, T = look.core.fps, look.core.num_frames
        horizon_s = settings.horizon_s or (T - 1) / fps

        progress(f"[2/5] starting the simulated rig ({len(settings.cameras)} cameras "
                 f"{size[1]}x{size[0]} @ {settings.camera_hz:g} Hz, seed {settings.seed})")
        rig, rig_log = _start_rig(settings, size, out / "sim_rig.log")
        rec = _Recorder(runner.context, settings.cameras)
        runner.add(rec.node)
        runner.start()

        def rig_alive() -> None:
            if rig.poll() is not None:
                tail = (out / "sim_rig.log").read_text().strip().splitlines()[-3:]
                raise VapError(f"demo: the simulated rig exited ({rig.returncode}): "
                               + " | ".join(tail))

        def waiting(cond):
            def check():
                rig_alive()
                return cond()
            return check

        wait_until(waiting(rec.ready), timeout,
                   f"the rig's first images (log: {out / 'sim_rig.log'})", 0.05)
        wait_until(waiting(lambda: not look.inputs.missing() and look.joints.latest),
                   timeout, "the lookahead node's inputs (CameraInfo, /tf_static, images, "
                   "joint states)", 0.05)
        # the plan goes to the rig and to the lookahead node: both must be matched, else DDS
        # drops it
        wait_until(waiting(lambda: rec.plan_pub.get_subscription_count() >= 2), timeout,
                   "the rig's and the lookahead's plan subscriptions", 0.05)

        _, names, pos = rec.latest_state()
        robot_names = [f"panda_joint{i}" for i in range(1, 8)]
        q0 = np.array([pos[names.index(n)] for n in robot_names])
        width0 = float(sum(pos[names.index(n)] for n in names if "finger" in n))
        task, robot, layout = _plan(settings, size, q0, width0)
        plan = task.trajectory
        progress(f"[3/5] task {settings.task!r}: a {plan.duration_ns / NS:.1f} s plan; predicting "
                 f"{T}-frame rollouts ({(T - 1) / fps:.1f} s) every {horizon_s:.1f} s while "
                 "the rig executes it")
        grip = tuple(robot.gripper.joints) if robot.gripper else ()
        t_pub = time.monotonic()
        look.set_parameters([_param("horizon_rate_hz", 1.0 / horizon_s)])
        rec.plan_pub.publish(convert.trajectory_msg(plan, 0, grip))
        # Run until the plan has been executed (joint-state time) ...
        js0 = rec.latest_state()[0]
        wait_until(waiting(lambda: rec.latest_state()[0] - js0 > plan.duration_ns + NS // 2),
                   timeout, "the rig to execute the plan", 0.05)
        look.set_parameters([_param("horizon_rate_hz", 0.0)])
        # ... then until the last rollout is in and the recording covers every rollout's frames
        wait_until(waiting(lambda: look.worker.idle and rec.covers_rollouts(settings.cameras)),
                   timeout, "the last rollouts and the frames they predict", 0.05)
        progress(f"[4/5] plan executed; {len(rec.rollouts)} rollouts received")
        node_errors = list(look.errors.recent)
    finally:
        runner.close()
        if rig is not None:
            rig.terminate()
            try:
                rig.wait(10)
            except subprocess.TimeoutExpired:
                rig.kill()
        if rig_log is not None:
            rig_log.close()

    progress("[5/5] scoring and writing videos")
    from vap_ros.ros.demo_report import score_and_write

    report = score_and_write(rec, settings, robot, layout.cameras, plan, t_pub, fps, out,
                             node_errors=node_errors, plan_start_ns=js0)
    report["model"] = model_dir
    (out / "metrics.json").write_text(json.dumps(report, indent=2))
    return report


def _param(name, value):
    from rclpy.parameter import Parameter

    return Parameter(name, value=value)
