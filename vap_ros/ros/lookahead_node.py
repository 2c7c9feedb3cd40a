"""Lookahead node: "what will the cameras see while this plan runs?"

Subscribes each camera's images (Image or CompressedImage, sensor-data QoS, newest only) and
CameraInfo, ``/joint_states``, ``/tf_static`` (or reads a calibration file) and a plan topic
(trajectory_msgs/JointTrajectory). On each new plan, and optionally at a fixed rate for a
"hold still / continue the plan" horizon, it takes the newest image per camera, renders the plan's
skeleton prompts, runs the world model and publishes per camera:

- ``<output_namespace>/<camera>/rollout``: vap_ros_msgs/VideoRollout
- ``<output_namespace>/<camera>/predicted``: the predicted frames replayed at the model's fps
- ``<output_namespace>/<camera>/prompt``: the prompt frames, replayed alongside
- ``/diagnostics``: rates, latency, inference time, overhead, last error

and serves ``<output_namespace>/predict_rollout`` (vap_ros_msgs/PredictRollout).

The model runs in a process of its own by default (``model_process``; see
``vap_ros.serve.model_process`` for why), fed by one worker thread with a one-slot mailbox
(``vap_ros.serve.RequestWorker``): a newer request replaces an unstarted one, so a slow model
never builds a backlog and memory stays flat. A plan or service request that arrives before its
inputs (CameraInfo, /tf_static, a first image; a joint state for hold-still) is held, newest
only, for up to ``startup_wait_s`` and runs as soon as they are there; after that it is refused
with one log line naming what is still missing. Bad inputs are logged as one clear line each and
the node keeps running.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, JointState
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg
from vap_ros_msgs.msg import VideoRollout
from vap_ros_msgs.srv import PredictRollout

from vap_ros.camera import load_calibration
from vap_ros.errors import ConfigError, VapError
from vap_ros.prompts import SkeletonRenderer
from vap_ros.robot import JointStateMapper, JointTrajectory, RobotModel, SkeletonSpec
from vap_ros.ros.convert import (
    stamp_msg,
    stamp_to_ns,
    trajectory_from_msg,
    trajectory_msg,
    video_rollout_msg,
)
from vap_ros.ros.diagnostics import diagnostic_array, level_for
from vap_ros.ros.inputs import (
    CameraInputs,
    JointStateInput,
    StaleInputError,
    TimeJump,
    guarded,
    topics_for,
)
from vap_ros.ros.node_utils import (
    SENSOR_QOS,
    SENSOR_QOS_DEEP,
    ErrorLog,
    RateMeter,
    declare_parameters,
    reliable_qos,
)
from vap_ros.ros.runtime import run_node
from vap_ros.ros.tf_cache import StaticTfListener
from vap_ros.serve import (
    DTYPES,
    Lookahead,
    RequestWorker,
    RolloutInputs,
    RolloutResult,
    hold_still,
    load_predictor,
)

__all__ = ["DEFAULTS", "LookaheadNode", "main"]

NS = 1_000_000_000

DEFAULTS: dict[str, Any] = {
    "robot": "panda",
    "cameras": ["front"],
    "image_topic": "/{camera}/image_raw",
    "camera_info_topic": "/{camera}/camera_info",
    "image_transport": "raw",
    "calibration_file": "",
    "base_frame": "panda_link0",
    "joint_states_topic": "/joint_states",
    "plan_topic": "/planned_trajectory",
    "output_namespace": "/lookahead",
    "model": "tiny",
    "model_seed": 0,
    "model_base": "",
    "model_process": True,
    "model_threads": 0,
    "device": "cpu",
    "dtype": "float32",
    "steps": 0,
    "seed": 0,
    "horizon_rate_hz": 0.0,
    "max_input_age_s": 1.0,
    "startup_wait_s": 5.0,
    "time_jump_threshold_s": 1.0,
    "replay": True,
    "diagnostics_period_s": 1.0,
    "extra_joints": "error",
    "freeze_inputs": False,
}

DESCRIPTIONS = {
    "robot": "robot preset (URDF + skeleton), e.g. panda",
    "cameras": "camera names; topics follow image_topic / camera_info_topic",
    "image_topic": "image topic pattern, {camera} is replaced by the camera name",
    "camera_info_topic": "CameraInfo topic pattern",
    "image_transport": "raw (sensor_msgs/Image) or compressed (CompressedImage on "
                       "<topic>/compressed)",
    "calibration_file": "calibration YAML with extrinsics; empty = camera poses from /tf_static",
    "base_frame": "robot base frame the extrinsics are relative to",
    "plan_topic": "trajectory_msgs/JointTrajectory plans to predict",
    "output_namespace": "rollout/predicted/prompt topics live under <ns>/<camera>/",
    "model": "world-model preset name (random init) or checkpoint directory",
    "model_seed": "initialisation seed of a preset without weights",
    "model_base": "local diffusers directory for presets/checkpoints built on a pretrained base",
    "model_process": "run the model in a process of its own (no GIL sharing with callbacks)",
    "model_threads": "torch CPU threads for the model (0 = every core)",
    "device": "torch device: cpu, cuda, cuda:0",
    "dtype": "model weights and activations: float32, bfloat16 or float16",
    "steps": "denoising steps (0 = the model's default)",
    "seed": "sampler seed for topic-triggered rollouts",
    "horizon_rate_hz": "also predict at this rate (continue the plan / hold still); 0 = off",
    "max_input_age_s": "refuse images / joint states older than this (0 = no limit)",
    "startup_wait_s": "a request that arrives before its inputs (calibration, first image, "
                      "joint state) waits this long for them, then is refused",
    "time_jump_threshold_s": "stamps going back more than this clear the caches (bag loop)",
    "replay": "replay the newest predicted and prompt frames at the model's fps",
    "diagnostics_period_s": "period of /diagnostics messages",
    "extra_joints": "joint names the robot does not know: error or ignore",
    "freeze_inputs": "keep the cached images and joint state (ignore new ones, no age check): "
                     "compare plans from the very same moment",
}

RUNTIME_PARAMS = {"steps", "seed", "max_input_age_s", "horizon_rate_hz", "freeze_inputs",
                  "startup_wait_s"}


@dataclass
class _Request:
    source: str  # "plan" | "horizon"
    plan: JointTrajectory | None  # validated, relative stamps (0 = plan start)
    plan_msg: JointTrajectoryMsg | None
    plan_start_ns: int | None  # absolute plan start; None = at the conditioning image
    t_received: float  # time.monotonic() at receipt
    callback_cpu_s: float = 0.0  # CPU time spent in the receiving callback


class LookaheadNode(Node):
    """See the module docstring. ``predictor_factory(params) -> (model, model_id)`` replaces
    the world-model loader (benchmarks); other keyword arguments go to ``rclpy.node.Node``."""

    def __init__(self, node_name: str = "lookahead_node", *,
                 predictor_factory: Callable[[dict], tuple[Any, str]] | None = None,
                 **node_kwargs) -> None:
        super().__init__(node_name, **node_kwargs)
        p = self.params = declare_parameters(self, DEFAULTS, DESCRIPTIONS)
        self._check_params(p)
        self.errors = ErrorLog(self.get_logger())

        self.robot = RobotModel.from_preset(p["robot"])
        renderer = SkeletonRenderer(self.robot, SkeletonSpec.from_preset(p["robot"]))
        self.grip_joints = self.robot.gripper.joints if self.robot.gripper is not None else ()

        self.camera_names = tuple(p["cameras"])
        topics = topics_for(self.camera_names, p["image_topic"], p["camera_info_topic"],
                            p["image_transport"])
        calibration = (load_calibration(p["calibration_file"], base_frame=p["base_frame"])
                       if p["calibration_file"] else {})
        missing = [n for n in self.camera_names if calibration and n not in calibration]
        if missing:
            raise ConfigError(f"calibration file {p['calibration_file']!r} has no camera "
                              f"{missing}")
        self.joints = JointStateInput(
            JointStateMapper.for_robot(self.robot, extra=p["extra_joints"]),
            p["joint_states_topic"], p["time_jump_threshold_s"])
        # the model last: the cheap checks above fail fast, before a model process starts
        factory = predictor_factory or (lambda q: load_predictor(
            q["model"], device=q["device"], seed=q["model_seed"], base=q["model_base"],
            dtype=q["dtype"], process=q["model_process"], threads=q["model_threads"]))
        self.model, self.model_id = factory(p)
        self.core = Lookahead(renderer, self.model, steps=p["steps"])

        inputs_group = MutuallyExclusiveCallbackGroup()
        self._timer_group = MutuallyExclusiveCallbackGroup()
        service_group = MutuallyExclusiveCallbackGroup()
        self.tf = None if calibration else StaticTfListener(
            self, callback_group=inputs_group, on_change=self._on_tf).tree
        self.inputs = CameraInputs(self.camera_names, topics, p["base_frame"], self.tf,
                                   calibration, time_jump_threshold_s=p["time_jump_threshold_s"])

        image_type = CompressedImage if p["image_transport"] == "compressed" else Image
        self._subs = []
        for name in self.camera_names:
            img_topic, info_topic = topics[name]
            self._subs.append(self.create_subscription(
                image_type, img_topic, lambda m, n=name: self._on_image(n, m), SENSOR_QOS,
                callback_group=inputs_group))
            self._subs.append(self.create_subscription(
                CameraInfo, info_topic, lambda m, n=name: self._on_info(n, m), SENSOR_QOS,
                callback_group=inputs_group))
        self._subs.append(self.create_subscription(
            JointState, p["joint_states_topic"], self._on_joint_state, SENSOR_QOS_DEEP,
            callback_group=inputs_group))
        self._subs.append(self.create_subscription(
            JointTrajectoryMsg, p["plan_topic"], self._on_plan, reliable_qos(5),
            callback_group=inputs_group))

        ns = p["output_namespace"].rstrip("/")
        self._rollout_pubs = {n: self.create_publisher(VideoRollout, f"{ns}/{n}/rollout",
                                                       reliable_qos(2))
                              for n in self.camera_names}
        self._predicted_pubs = {n: self.create_publisher(Image, f"{ns}/{n}/predicted", 2)
                                for n in self.camera_names}
        self._prompt_pubs = {n: self.create_publisher(Image, f"{ns}/{n}/prompt", 2)
                             for n in self.camera_names}
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.service = self.create_service(PredictRollout, f"{ns}/predict_rollout",
                                           self._on_predict, callback_group=service_group)

        # state shared between callbacks and the worker
        self._state_lock = threading.Lock()
        self._model_lock = threading.Lock()
        self._active_plan: _Request | None = None
        self._replay: dict[str, VideoRollout] = {}
        self._replay_index = 0
        self.stats = _Stats()

        fps = self.core.fps
        if p["replay"]:
            self.create_timer(1.0 / fps, self._on_replay, callback_group=self._timer_group)
        self._horizon_timer = None
        self._set_horizon_rate(p["horizon_rate_hz"])
        if p["diagnostics_period_s"] > 0:
            self.create_timer(p["diagnostics_period_s"], self._publish_diagnostics,
                              callback_group=self._timer_group)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.worker = RequestWorker(self._run_request, self._missing, self._refuse,
                                    lambda: self.params["startup_wait_s"],
                                    name="lookahead-model")
        self.get_logger().info(
            f"lookahead ready: model {self.model_id} ({self.core.num_frames} frames "
            f"{self.core.width}x{self.core.height} @ {fps:g} fps), cameras "
            f"{list(self.camera_names)}, plans on {p['plan_topic']}, outputs under {ns}/")

    # ------------------------------------------------------------ parameters
    @staticmethod
    def _check_params(p: dict) -> None:
        if not p["cameras"] or any(not c for c in p["cameras"]):
            raise ConfigError(f"parameter cameras must list camera names, got {p['cameras']}")
        if p["image_transport"] not in ("raw", "compressed"):
            raise ConfigError(f"image_transport must be raw or compressed, got "
                              f"{p['image_transport']!r}")
        if p["extra_joints"] not in ("error", "ignore"):
            raise ConfigError(f"extra_joints must be error or ignore, got {p['extra_joints']!r}")
        if p["dtype"] not in DTYPES:
            raise ConfigError(f"dtype must be one of {list(DTYPES)}, got {p['dtype']!r}")
        for k in ("steps", "seed", "horizon_rate_hz", "max_input_age_s", "time_jump_threshold_s",
                  "startup_wait_s", "model_threads"):
            if p[k] < 0:
                raise ConfigError(f"parameter {k} must be >= 0, got {p[k]}")

    def _on_set_parameters(self, params) -> SetParametersResult:
        for prm in params:
            if prm.name not in RUNTIME_PARAMS:
                return SetParametersResult(successful=False, reason=(
                    f"{prm.name} is read at start-up; restart the node to change it"))
            if prm.name != "freeze_inputs" and (prm.value is None or prm.value < 0):
                return SetParametersResult(successful=False, reason=f"{prm.name} must be >= 0")
        for prm in params:
            self.params[prm.name] = prm.value
            if prm.name == "steps":
                self.core.steps = int(prm.value)
            if prm.name == "horizon_rate_hz":
                self._set_horizon_rate(float(prm.value))
        return SetParametersResult(successful=True)

    def _set_horizon_rate(self, rate_hz: float) -> None:
        if self._horizon_timer is not None:
            self.destroy_timer(self._horizon_timer)
            self._horizon_timer = None
        if rate_hz > 0:
            self._horizon_timer = self.create_timer(1.0 / rate_hz, self._on_horizon,
                                                    callback_group=self._timer_group)

    # ------------------------------------------------------------ input callbacks
    def _now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def _robot_now_ns(self) -> int:
        """"Now" in the robot's time base: the newest joint state's stamp when it is recent
        (a simulated or bag-replayed robot may lag the node clock), else the node clock.
        A plan stamped zero ("start now") starts here."""
        now = self._now_ns()
        js = self.joints.latest
        if js is not None and abs(now - js.stamp_ns) < 2 * NS:
            return js.stamp_ns
        return now

    def _on_image(self, name: str, msg) -> None:
        self.stats.images.tick()
        if self.params["freeze_inputs"]:
            return
        guarded(self.errors, self.inputs.topics[name][0], self.inputs.update_image, name, msg,
                on_time_jump=self._on_time_jump)
        self.worker.inputs_changed()

    def _on_info(self, name: str, msg: CameraInfo) -> None:
        guarded(self.errors, self.inputs.topics[name][1], self.inputs.update_info, name, msg)
        self.worker.inputs_changed()

    def _on_tf(self) -> None:
        self.worker.inputs_changed()

    def _on_joint_state(self, msg: JointState) -> None:
        self.stats.joint_states.tick()
        if self.params["freeze_inputs"]:
            return
        guarded(self.errors, self.params["joint_states_topic"], self.joints.update, msg,
                on_time_jump=self._on_time_jump)
        self.worker.inputs_changed()

    def _on_time_jump(self, jump: TimeJump) -> None:
        self.inputs.clear_images()
        self.joints.clear()
        with self._state_lock:
            self._active_plan = None
        self.worker.clear()
        self.stats.time_jumps += 1
        self.errors.warn(jump.source, str(jump), kind="time_jump")

    def _plan_from_msg(self, msg: JointTrajectoryMsg) -> JointTrajectory:
        """Validated plan in the robot's joint order, stamps relative to its start."""
        traj = trajectory_from_msg(msg, self.robot.arm_joint_names, self.grip_joints,
                                   start_ns=0)
        return traj.validate(self.robot)

    def _on_plan(self, msg: JointTrajectoryMsg) -> None:
        t, cpu = time.monotonic(), time.thread_time()
        try:
            plan = self._plan_from_msg(msg)
        except VapError as err:
            self.errors.error(self.params["plan_topic"], f"plan rejected: {err}")
            return
        except Exception as err:  # never let a malformed message take the node down
            self.errors.error(self.params["plan_topic"],
                              f"plan rejected: unexpected {type(err).__name__}: {err}",
                              kind="internal")
            return
        start = stamp_to_ns(msg.header.stamp) or self._robot_now_ns()
        msg.header.stamp = stamp_msg(start)
        req = _Request("plan", plan, msg, start, t, time.thread_time() - cpu)
        with self._state_lock:
            self._active_plan = req
        self.stats.plans += 1
        self.worker.submit(req, t)

    def _on_horizon(self) -> None:
        with self._state_lock:
            active = self._active_plan
        now = self._robot_now_ns()
        t = time.monotonic()
        if active is not None and now <= active.plan_start_ns + active.plan.duration_ns:
            self.worker.submit(_Request("horizon", active.plan, active.plan_msg,
                                        active.plan_start_ns, t), t)
        else:
            self.worker.submit(_Request("horizon", None, None, None, t), t)

    # ------------------------------------------------------------ worker
    def _missing(self, req: _Request, names=None) -> list[str]:
        """What ``req`` still lacks (RequestWorker holds it until this is empty)."""
        out = self.inputs.missing(names or self.camera_names)
        js = self.joints.latest
        if req.plan is None and (js is None or not js.arm_q.size):
            out.append(f"no joint state yet on {self.joints.topic} (needed to hold still)")
        return out

    def _refuse(self, req: _Request, missing: list[str]) -> None:
        self.stats.refused_missing += 1
        self.errors.error(f"{req.source} rollout",
                          f"refused after waiting {self.params['startup_wait_s']:g} s "
                          f"(startup_wait_s) for its inputs; still missing: "
                          + "; ".join(missing), kind="missing")

    def _run_request(self, req: _Request) -> None:
        try:
            self._run_and_publish(req)
        except StaleInputError as err:
            self.stats.refused_stale += 1
            self.errors.error(f"{req.source} rollout", str(err), kind="stale")
        except VapError as err:
            self.errors.error(f"{req.source} rollout", f"skipped: {err}")
        except Exception as err:  # a model bug must not kill the node
            self.errors.error(f"{req.source} rollout",
                              f"failed: {type(err).__name__}: {err}", kind="internal")

    def _gather(self, req: _Request, names) -> RolloutInputs:
        now = self._now_ns()
        max_age = 0 if self.params["freeze_inputs"] else int(self.params["max_input_age_s"] * NS)
        cams = self.inputs.cameras(names)
        images, stamps = [], []
        for n in names:
            rgb, stamp, _ = self.inputs.image(n, now, max_age)
            images.append(rgb)
            stamps.append(stamp)
        js = self.joints.latest
        js_fresh = js is not None and js.arm_q.size and (
            max_age == 0 or now - js.stamp_ns <= max_age)
        if req.plan is None and not js_fresh:
            if js is None or not js.arm_q.size:
                raise StaleInputError(f"no joint state on {self.joints.topic}: cannot hold still")
            raise StaleInputError(f"newest joint state on {self.joints.topic} is "
                                  f"{(now - js.stamp_ns) / NS:.3f} s old (max_input_age_s "
                                  f"{max_age / NS:g}): refused")
        plan = None
        if req.plan is not None:
            start = req.plan_start_ns if req.plan_start_ns is not None else max(stamps)
            plan = JointTrajectory(req.plan.joint_names, req.plan.positions,
                                   req.plan.stamps_ns + start, req.plan.gripper_width_m)
        return RolloutInputs(cams, images, stamps, plan,
                             js.arm_q if js_fresh else None,
                             js.gripper_width_m if js_fresh else None)

    def _rollout(self, req: _Request, names, seed: int, steps: int,
                 timings: dict | None = None) -> list[VideoRollout]:
        t0 = time.monotonic()
        inputs = self._gather(req, names)
        t1 = time.monotonic()
        with self._model_lock:
            result = self.core.run(inputs, seed=seed, steps=steps)
        t2 = time.monotonic()
        msgs = self._rollout_msgs(result, inputs, req)
        if timings is not None:
            timings.update(wait_s=t0 - req.t_received, gather_s=t1 - t0,
                           prompts_s=result.prepare_s, model_s=result.inference_s,
                           model_cpu_s=result.timings.get("model_cpu_s", 0.0),
                           messages_s=time.monotonic() - t2)
        return msgs

    def _rollout_msgs(self, result: RolloutResult, inputs: RolloutInputs,
                      req: _Request) -> list[VideoRollout]:
        plan_msg = req.plan_msg
        if plan_msg is None:  # hold still: the plan is the current pose held over the horizon
            hold = hold_still(self.robot.arm_joint_names, result.prompt_q,
                              self.core.num_frames, self.core.fps)
            plan_msg = trajectory_msg(hold, int(max(result.image_stamps_ns)))
        return [video_rollout_msg(
            name, result.frames[v], result.prompts[v], result.offsets_ns[v],
            result.image_stamps_ns[v], inputs.cameras[v].frame_id, plan_msg, self.model_id,
            int(result.inference_s * NS)) for v, name in enumerate(result.camera_names)]

    def _run_and_publish(self, req: _Request) -> None:
        timings: dict = {}
        cpu0 = time.thread_time()
        msgs = self._rollout(req, self.camera_names, self.params["seed"], self.params["steps"],
                             timings)
        t_pub = time.monotonic()
        for m in msgs:
            self._rollout_pubs[m.camera_name].publish(m)
        t_done = time.monotonic()
        timings["publish_s"] = t_done - t_pub
        # CPU time of this node's threads for the rollout, model excluded: unlike wall time,
        # not stretched by other processes sharing the cores
        timings["cpu_s"] = (time.thread_time() - cpu0 - timings["model_cpu_s"]
                            + req.callback_cpu_s)
        self.stats.timings.append(timings)
        inference_s = msgs[0].inference_time.sec + msgs[0].inference_time.nanosec * 1e-9
        with self._state_lock:
            self._replay = {m.camera_name: m for m in msgs}
            self._replay_index = 0
        self.stats.record(req.source, t_done - req.t_received - inference_s, inference_s,
                          (self._now_ns() - max(stamp_to_ns(m.header.stamp) for m in msgs)) / NS)

    # ------------------------------------------------------------ service
    def _on_predict(self, request, response):
        t = time.monotonic()
        try:
            plan = self._plan_from_msg(request.plan)
            names = tuple(request.cameras) or self.camera_names
            unknown = [n for n in names if n not in self.camera_names]
            if unknown:
                raise ConfigError(f"unknown cameras {unknown}; configured: "
                                  f"{list(self.camera_names)}")
            start = stamp_to_ns(request.plan.header.stamp) or None
            req = _Request("service", plan, request.plan, start, t)
            missing = self.worker.wait_for_inputs(lambda: self._missing(req, names),
                                                  self.params["startup_wait_s"])
            if missing:
                self.stats.refused_missing += 1
                raise ConfigError(f"refused after waiting {self.params['startup_wait_s']:g} s "
                                  "(startup_wait_s) for its inputs; still missing: "
                                  + "; ".join(missing))
            response.rollouts = self._rollout(req, names, int(request.seed),
                                              int(request.steps) or self.params["steps"])
            response.success = True
            self.stats.service_calls += 1
        except VapError as err:
            response.success = False
            response.message = str(err)
            self.errors.error("predict_rollout", f"request failed: {err}")
        except Exception as err:
            response.success = False
            response.message = f"{type(err).__name__}: {err}"
            self.errors.error("predict_rollout", f"request failed: {response.message}",
                              kind="internal")
        return response

    # ------------------------------------------------------------ timers
    def _on_replay(self) -> None:
        with self._state_lock:
            replay, k = self._replay, self._replay_index
            self._replay_index += 1
        for name, m in replay.items():
            i = k % len(m.frames)
            self._predicted_pubs[name].publish(m.frames[i])
            self._prompt_pubs[name].publish(m.prompt_frames[i])

    def _publish_diagnostics(self) -> None:
        s = self.stats
        level, message = level_for(self.errors, ok_message=f"{s.rollouts.total} rollouts")
        values = {
            "rollouts": s.rollouts.total,
            "rollout_rate_hz": s.rollouts.rate(),
            "image_rate_hz": s.images.rate(),
            "joint_state_rate_hz": s.joint_states.rate(),
            "plans": s.plans,
            "service_calls": s.service_calls,
            "latency_ms": s.latency_s * 1e3,
            "inference_ms": s.inference_s * 1e3,
            "overhead_ms": s.overhead_s * 1e3,
            "dropped_requests": self.worker.dropped,
            "held_for_inputs": self.worker.held,
            "refused_missing": s.refused_missing,
            "refused_stale": s.refused_stale,
            "time_jumps": s.time_jumps,
            "input_errors": self.errors.counts["input"],
            "last_error": self.errors.last_error,
            "model_id": self.model_id,
        }
        self._diag_pub.publish(diagnostic_array(f"{self.get_name()}: lookahead",
                                                self._now_ns(), level, message, values))

    # ------------------------------------------------------------ shutdown
    def close(self) -> None:
        worker = getattr(self, "worker", None)  # None when __init__ failed early
        if worker is not None:
            worker.close()
        close_model = getattr(getattr(self, "model", None), "close", None)
        if close_model is not None:  # a model process
            close_model()

    def destroy_node(self) -> None:
        self.close()
        super().destroy_node()


class _Stats:
    def __init__(self) -> None:
        self.images = RateMeter()
        self.joint_states = RateMeter()
        self.rollouts = RateMeter(10.0)
        self.plans = self.service_calls = self.refused_stale = self.refused_missing = 0
        self.time_jumps = 0
        self.latency_s = self.inference_s = self.overhead_s = 0.0
        self.overheads_s: list[float] = []
        self.timings: collections.deque[dict] = collections.deque(maxlen=1000)
        self.sources: dict[str, int] = {}

    def record(self, source: str, overhead_s: float, inference_s: float,
               latency_s: float) -> None:
        self.rollouts.tick()
        self.sources[source] = self.sources.get(source, 0) + 1
        self.overhead_s, self.inference_s, self.latency_s = overhead_s, inference_s, latency_s
        self.overheads_s.append(overhead_s)
        del self.overheads_s[:-1000]


def main(args=None) -> None:
    run_node(LookaheadNode, args)


if __name__ == "__main__":
    main()
