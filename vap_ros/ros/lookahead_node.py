"""Lookahead node: "what will the cameras see while this plan runs?"

Subscribes each camera's images (Image or CompressedImage, sensor-data QoS, newest only) and
CameraInfo, ``/joint_states``, ``/tf_static`` (or reads a calibration file) and a plan topic
(trajectory_msgs/JointTrajectory). On each new plan, and optionally at a fixed rate for a
"hold still / continue the plan" horizon, it takes the newest image per camera, renders the
plan's prompts (of the model's ``prompt_type``: skeleton, depth, ...), runs the world model and
publishes per camera (one clip; with ``max_rollout_s`` > 0 a plan's rollout covers the whole
plan, predicted in chunks):

- ``<output_namespace>/<camera>/rollout``: vap_ros_msgs/VideoRollout
- ``<output_namespace>/<camera>/predicted``: the predicted frames replayed at the model's fps
- ``<output_namespace>/<camera>/prompt``: the prompt frames, replayed alongside
- ``/diagnostics``: rates, latency, inference time, overhead, last error

and serves the actions ``<output_namespace>/predict_rollout`` (vap_ros_msgs/PredictRollout:
"what would this plan look like?", with progress feedback per denoising step and cancel) and
``<output_namespace>/rank_plans`` (vap_ros_msgs/RankPlans: candidate plans ranked against a goal
image per camera; ``vap_ros.ros.rank_action``). They share the model through a ``ModelGate``.

The node is thin: parameters (``LookaheadParams``), subscriptions that convert and cache
(``vap_ros.ros.inputs``), and a worker that runs the ROS-free core (``vap_ros.serve``): the model
runs in a process of its own by default, fed by one worker thread with a one-slot mailbox; a newer
request replaces an unstarted one. A plan or service request that arrives before its inputs
(CameraInfo, /tf_static, a first image; a joint state for hold-still) is held, newest only, for
up to ``startup_wait_s`` and runs as soon as they are there; after that it is refused with one log
line naming what is still missing. Bad inputs are logged as one clear line each and the node
keeps running.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, JointState
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg

from vap_ros.data.messages import (
    display_trajectory_to_trajectory,
    header_stamp_ns,
    plan_to_trajectory,
    stamp_ns,
)
from vap_ros.errors import RolloutCancelled, StaleInputError, TimeJump, VapError
from vap_ros.prompts import PromptRenderer
from vap_ros.robot import JointStateMapper, JointTrajectory
from vap_ros.robot.loader import load_robot
from vap_ros.ros.convert import stamp_msg, trajectory_msg, video_rollout_msg
from vap_ros.ros.diagnostics import LookaheadStats, diagnostic_array, level_for
from vap_ros.ros.inputs import (
    CameraInputs,
    JointStateInput,
    calibration_for,
    guarded,
    topics_for,
)
from vap_ros.ros.lookahead_params import LookaheadParams
from vap_ros.ros.node_utils import SENSOR_QOS, SENSOR_QOS_DEEP, ErrorLog, reliable_qos
from vap_ros.ros.params import declare, on_set
from vap_ros.ros.predict_action import PredictRolloutServer
from vap_ros.ros.rank_action import RankPlansServer
from vap_ros.ros.runtime import run_node
from vap_ros.ros.tf_cache import StaticTfListener
from vap_ros.serve import (
    Lookahead,
    ModelGate,
    RequestWorker,
    RolloutInputs,
    RolloutRequest,
    RolloutResult,
    assemble_inputs,
    hold_still,
    load_predictor,
)
from vap_ros_msgs.msg import VideoRollout

__all__ = ["LookaheadNode", "LookaheadParams", "main"]

NS = 1_000_000_000


class LookaheadNode(Node):
    """See the module docstring. ``predictor_factory(params) -> (model, model_id)`` replaces
    the world-model loader (tests, benchmarks); other keyword arguments go to
    ``rclpy.node.Node``."""

    def __init__(self, node_name: str = "lookahead_node", *,
                 predictor_factory: Callable[[LookaheadParams], tuple[Any, str]] | None = None,
                 **node_kwargs) -> None:
        super().__init__(node_name, **node_kwargs)
        p = self.params = declare(self, LookaheadParams)
        self.errors = ErrorLog(self.get_logger())
        setup = load_robot(p.robot, robot_description=p.robot_description)
        self.robot = setup.robot
        self.camera_names = tuple(p.cameras)
        topics = topics_for(self.camera_names, p.image_topic, p.camera_info_topic,
                            p.image_transport)
        calibration = calibration_for(p.calibration_file, self.camera_names, p.base_frame)
        self.mapper = JointStateMapper.for_robot(self.robot, extra=p.extra_joints,
                                                 name_map=p.joint_name_map)
        self.joints = JointStateInput(self.mapper, p.joint_states_topic, p.time_jump_threshold_s)
        # the model last: the cheap checks above fail fast, before a model process starts
        factory = predictor_factory or (lambda q: load_predictor(
            q.model, device=q.device, seed=q.model_seed, base=q.model_base, dtype=q.dtype,
            process=q.model_process, threads=q.model_threads))
        self.model, self.model_id = factory(p)
        # prompts of the type the model was trained on (its vap_config.json prompt_type)
        self.prompt_type = getattr(self.model.config, "prompt_type", "skeleton")
        renderer = PromptRenderer(setup.robot, setup.skeleton, self.prompt_type)
        self.core = Lookahead(renderer, self.model, steps=p.steps)

        inputs_group = MutuallyExclusiveCallbackGroup()
        timer_group = MutuallyExclusiveCallbackGroup()
        self.tf = None if calibration else StaticTfListener(
            self, callback_group=inputs_group, on_change=self._inputs_changed).tree
        self.inputs = CameraInputs(self.camera_names, topics, p.base_frame, self.tf,
                                   calibration, time_jump_threshold_s=p.time_jump_threshold_s)
        image_type = CompressedImage if p.image_transport == "compressed" else Image
        for name in self.camera_names:
            img_topic, info_topic = topics[name]
            self.create_subscription(image_type, img_topic, lambda m, n=name: self._on_image(n, m),
                                     SENSOR_QOS, callback_group=inputs_group)
            self.create_subscription(CameraInfo, info_topic,
                                     lambda m, n=name: self._on_info(n, m), SENSOR_QOS,
                                     callback_group=inputs_group)
        for topic in filter(None, (p.joint_states_topic, p.gripper_joint_states_topic)):
            self.create_subscription(JointState, topic, self._on_joint_state, SENSOR_QOS_DEEP,
                                     callback_group=inputs_group)
        self.create_subscription(JointTrajectoryMsg, p.plan_topic, self._on_plan, reliable_qos(5),
                                 callback_group=inputs_group)
        if p.display_trajectory_topic:
            self._subscribe_display_trajectory(p.display_trajectory_topic, inputs_group)
        if p.robot_description_topic and not p.robot_description:
            from std_msgs.msg import String

            self.create_subscription(String, p.robot_description_topic,
                                     self._on_robot_description, reliable_qos(1, latched=True),
                                     callback_group=inputs_group)

        ns = p.output_namespace.rstrip("/")
        self._rollout_pubs = {n: self.create_publisher(VideoRollout, f"{ns}/{n}/rollout",
                                                       reliable_qos(2))
                              for n in self.camera_names}
        self._predicted_pubs = {n: self.create_publisher(Image, f"{ns}/{n}/predicted", 2)
                                for n in self.camera_names}
        self._prompt_pubs = {n: self.create_publisher(Image, f"{ns}/{n}/prompt", 2)
                             for n in self.camera_names}
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.action = PredictRolloutServer(self, f"{ns}/predict_rollout")
        self.rank_action = RankPlansServer(self, f"{ns}/rank_plans")

        self._state_lock = threading.Lock()  # the active plan and the replay buffer
        self.model_gate = ModelGate()  # the worker and the actions share the model
        self._active_plan: RolloutRequest | None = None
        self._replay: dict[str, VideoRollout] = {}
        self._replay_index = 0
        self.stats = LookaheadStats()
        self.preempted = {"horizon": 0, "plan": 0}  # rollouts stopped for a newer plan
        self.worker = RequestWorker(self._run_request, self.missing, self._refuse,
                                    lambda: self.params.startup_wait_s, name="lookahead-model")
        if p.replay:
            self.create_timer(1.0 / self.core.fps, self._on_replay, callback_group=timer_group)
        self._timer_group = timer_group
        self._horizon_timer: Any = None
        self._set_horizon_rate(p.horizon_rate_hz)
        if p.diagnostics_period_s > 0:
            self.create_timer(p.diagnostics_period_s, self._publish_diagnostics,
                              callback_group=timer_group)
        on_set(self, lambda: self.params, self._apply_params)
        self.get_logger().info(
            f"lookahead ready: model {self.model_id} ({self.core.num_frames} frames "
            f"{self.core.width}x{self.core.height} @ {self.core.fps:g} fps), cameras "
            f"{list(self.camera_names)}, plans on {p.plan_topic}, outputs under {ns}/")

    # ------------------------------------------------------------ parameters
    def _apply_params(self, new: LookaheadParams) -> None:
        old, self.params = self.params, new
        self.core.steps = new.steps
        if new.horizon_rate_hz != old.horizon_rate_hz:
            self._set_horizon_rate(new.horizon_rate_hz)

    def _set_horizon_rate(self, rate_hz: float) -> None:
        if self._horizon_timer is not None:
            self.destroy_timer(self._horizon_timer)
            self._horizon_timer = None
        if rate_hz > 0:
            self._horizon_timer = self.create_timer(1.0 / rate_hz, self._on_horizon,
                                                    callback_group=self._timer_group)

    # ------------------------------------------------------------ input callbacks
    def _inputs_changed(self) -> None:
        self.worker.inputs_changed()

    def _robot_now_ns(self) -> int:
        """"Now" in the robot's time base: the newest joint state's stamp when it is recent
        (a simulated or bag-replayed robot may lag the node clock), else the node clock.
        A plan stamped zero ("start now") starts here."""
        now = self.get_clock().now().nanoseconds
        js = self.joints.latest
        if js is not None and abs(now - js.stamp_ns) < 2 * NS:
            return js.stamp_ns
        return now

    def _on_image(self, name: str, msg) -> None:
        self.stats.images.tick()
        if not self.params.freeze_inputs:
            guarded(self.errors, self.inputs.topics[name][0], self.inputs.update_image, name,
                    msg, on_time_jump=self._on_time_jump)
            self.worker.inputs_changed()

    def _on_info(self, name: str, msg: CameraInfo) -> None:
        guarded(self.errors, self.inputs.topics[name][1], self.inputs.update_info, name, msg)
        self.worker.inputs_changed()

    def _on_joint_state(self, msg: JointState) -> None:
        self.stats.joint_states.tick()
        if not self.params.freeze_inputs:
            guarded(self.errors, self.params.joint_states_topic, self.joints.update, msg,
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

    def _on_robot_description(self, msg) -> None:
        """The robot's own URDF: rebuild the kinematics, skeleton and joint mapping from it."""
        setup = guarded(self.errors, self.params.robot_description_topic, load_robot,
                        self.params.robot, prefix="robot_description ignored: ",
                        kwargs={"robot_description": msg.data})
        if setup is None:
            return
        self.robot = setup.robot
        self.mapper = JointStateMapper.for_robot(setup.robot, extra=self.params.extra_joints,
                                                 name_map=self.params.joint_name_map)
        self.joints.mapper = self.mapper
        self.core.renderer = PromptRenderer(setup.robot, setup.skeleton, self.prompt_type)
        self.errors.info(f"robot from {self.params.robot_description_topic}: arm joints "
                         f"{list(setup.robot.arm_joint_names)}")

    def _subscribe_display_trajectory(self, topic: str, group) -> None:
        try:
            from moveit_msgs.msg import DisplayTrajectory
        except ImportError:
            self.get_logger().warning(f"display_trajectory_topic {topic!r} ignored: moveit_msgs "
                                      "is not installed (plans come on plan_topic only)")
            return
        self.create_subscription(DisplayTrajectory, topic, self._on_display_trajectory,
                                 reliable_qos(5), callback_group=group)

    def plan_from_msg(self, msg: JointTrajectoryMsg) -> JointTrajectory:
        """Validated plan in the robot's joint order, stamps relative to its start."""
        return plan_to_trajectory(msg, 0, self.mapper, start_ns=0).validate(self.robot)

    def _from_display_trajectory(self, msg) -> tuple[JointTrajectory, JointTrajectoryMsg]:
        traj, notes = display_trajectory_to_trajectory(msg, 0, self.mapper, start_ns=0)
        for note in notes:
            self.errors.info(f"{self.params.display_trajectory_topic}: {note}")
        traj = traj.validate(self.robot)
        trajectories = list(msg.trajectory)
        start = header_stamp_ns(trajectories[0].joint_trajectory)  # 0: "start now"
        return traj, trajectory_msg(traj, start, self.robot.gripper.joints
                                    if self.robot.gripper is not None else ())

    def _on_display_trajectory(self, msg) -> None:
        got = guarded(self.errors, self.params.display_trajectory_topic,
                      self._from_display_trajectory, msg, prefix="plan rejected: ")
        if got is not None:
            self._submit_plan(got[0], got[1], time.monotonic(), time.thread_time())

    def _on_plan(self, msg: JointTrajectoryMsg) -> None:
        t, cpu = time.monotonic(), time.thread_time()
        plan = guarded(self.errors, self.params.plan_topic, self.plan_from_msg, msg,
                       prefix="plan rejected: ")
        if plan is not None:
            self._submit_plan(plan, msg, t, cpu)

    def _submit_plan(self, plan: JointTrajectory, msg: JointTrajectoryMsg, t: float,
                     cpu: float) -> None:
        start = stamp_ns(msg.header.stamp) or self._robot_now_ns()
        msg.header.stamp = stamp_msg(start)
        req = RolloutRequest("plan", plan, msg, start, t, time.thread_time() - cpu)
        with self._state_lock:
            self._active_plan = req
        self.stats.plans += 1
        self.worker.submit(req, t)

    def _on_horizon(self) -> None:
        waiting = self.worker.pending
        if waiting is not None and waiting.source == "plan":
            return  # the plan's own rollout is next: a horizon request must not replace it
        with self._state_lock:
            active = self._active_plan
        t = time.monotonic()
        if (active is not None and active.plan is not None and active.plan_start_ns is not None
                and self._robot_now_ns() <= active.plan_start_ns + active.plan.duration_ns):
            req = RolloutRequest("horizon", active.plan, active.plan_msg, active.plan_start_ns, t)
        else:
            req = RolloutRequest("horizon", None, None, None, t)
        self.worker.submit(req, t)

    # ------------------------------------------------------------ worker
    def missing(self, req: RolloutRequest, names=None) -> list[str]:
        """What ``req`` still lacks (RequestWorker holds it until this is empty)."""
        out = self.inputs.missing(names or self.camera_names)
        js = self.joints.latest
        if req.plan is None and (js is None or not js.arm_q.size):
            out.append(f"no joint state yet on {self.joints.topic} (needed to hold still)")
        return out

    def _refuse(self, req: RolloutRequest, missing: list[str]) -> None:
        self.stats.refused_missing += 1
        self.errors.error(f"{req.source} rollout",
                          f"refused after waiting {self.params.startup_wait_s:g} s "
                          "(startup_wait_s) for its inputs; still missing: "
                          + "; ".join(missing), kind="missing")

    def _run_request(self, req: RolloutRequest) -> None:
        try:
            self._run_and_publish(req)
        except RolloutCancelled:  # gave way to a newer plan
            self.preempted[req.source] += 1
        except StaleInputError as err:
            self.stats.refused_stale += 1
            self.errors.error(f"{req.source} rollout", str(err), kind="stale")
        except VapError as err:
            if not self.worker.stopping:  # else: shutting down, the model stopped under it
                self.errors.error(f"{req.source} rollout", f"skipped: {err}")
        except Exception as err:  # noqa: BLE001 - a model bug must not kill the node
            self.errors.error(f"{req.source} rollout", f"failed: {type(err).__name__}: {err}",
                              kind="internal")

    def _gather(self, req: RolloutRequest, names) -> RolloutInputs:
        now = self.get_clock().now().nanoseconds
        max_age = 0 if self.params.freeze_inputs else int(self.params.max_input_age_s * NS)
        decoded = [self.inputs.image(n, now, max_age) for n in names]
        return assemble_inputs(self.inputs.cameras(names), [d[0] for d in decoded],
                               [d[1] for d in decoded], plan=req.plan,
                               plan_start_ns=req.plan_start_ns, joints=self.joints.latest,
                               now_ns=now, max_age_ns=max_age, joint_topic=self.joints.topic)

    def rollout(self, req: RolloutRequest, names, seed: int, steps: int,
                timings: dict | None = None, callback=None,
                max_rollout_s: float = 0.0) -> list[VideoRollout]:
        t0 = time.monotonic()
        inputs = self._gather(req, names)
        t1 = time.monotonic()
        with self.model_gate.hold(req.source):
            result = self.core.run(inputs, seed=seed, steps=steps, callback=callback,
                                   max_rollout_s=max_rollout_s)
        t2 = time.monotonic()
        msgs = self._rollout_msgs(result, inputs, req)
        if timings is not None:
            timings.update(wait_s=t0 - req.t_received, gather_s=t1 - t0,
                           prompts_s=result.prepare_s, model_s=result.inference_s,
                           model_cpu_s=result.timings.get("model_cpu_s", 0.0),
                           messages_s=time.monotonic() - t2)
        return msgs

    def _rollout_msgs(self, result: RolloutResult, inputs: RolloutInputs,
                      req: RolloutRequest) -> list[VideoRollout]:
        plan_msg = req.plan_msg
        if plan_msg is None:  # hold still: the plan is the current pose held over the horizon
            hold = hold_still(self.robot.arm_joint_names, result.prompt_q,
                              len(result.prompt_q), self.core.fps)
            plan_msg = trajectory_msg(hold, int(max(result.image_stamps_ns)))
        return [video_rollout_msg(
            name, result.frames[v], result.prompts[v], result.offsets_ns[v],
            result.image_stamps_ns[v], inputs.cameras[v].frame_id, plan_msg, self.model_id,
            int(result.inference_s * NS)) for v, name in enumerate(result.camera_names)]

    def _run_and_publish(self, req: RolloutRequest) -> None:
        timings: dict = {}
        cpu0 = time.thread_time()
        steps = self.params.steps
        msgs = self.rollout(req, self.camera_names, self.params.seed, steps, timings,
                            callback=self._yield_to_plans(req, steps),
                            max_rollout_s=self._max_rollout_s(req))
        t_pub = time.monotonic()
        for m in msgs:
            self._rollout_pubs[m.camera_name].publish(m)
        t_done = time.monotonic()
        timings["publish_s"] = t_done - t_pub
        # CPU time of this node's threads for the rollout, model excluded: unlike wall time,
        # not stretched by other processes sharing the cores
        timings["cpu_s"] = (time.thread_time() - cpu0 - timings["model_cpu_s"]
                            + req.callback_cpu_s)
        with self._state_lock:
            self._replay = {m.camera_name: m for m in msgs}
            self._replay_index = 0
        now = self.get_clock().now().nanoseconds
        self.stats.record(req.source, timings, t_done - req.t_received - timings["model_s"],
                          timings["model_s"],
                          (now - max(stamp_ns(m.header.stamp) for m in msgs)) / NS)

    def _max_rollout_s(self, req: RolloutRequest) -> float:
        """Topic plans may be predicted to their end (``max_rollout_s``); horizon and action
        rollouts are one clip."""
        return self.params.max_rollout_s if req.source == "plan" else 0.0

    def _model_calls(self, req: RolloutRequest) -> int:
        """Clips the model samples for ``req`` (now standing in for its image's stamp)."""
        if req.plan is None or req.plan_start_ns is None:
            return 1
        frames = self.core.rollout_frames(self._robot_now_ns(),
                                          req.plan_start_ns + req.plan.duration_ns,
                                          self._max_rollout_s(req))
        return self.core.model_calls(frames)

    def _yield_to_plans(self, req: RolloutRequest, steps: int):
        """A rollout stops between denoising steps for a newer plan that waits: a horizon
        rollout always (else the plan waits a whole rollout and can land after the plan's end);
        an older plan's (a controller replaces a trajectory with a newer one) only when
        finishing it would make the newer plan's rollout late and stopping it would not."""
        if req.source not in ("horizon", "plan"):
            return None
        t0, default = time.monotonic(), self.core.model.config.steps
        mine = (steps or default) * self._model_calls(req)  # steps count across chunks

        def check(step: int) -> None:
            w = self.worker.pending
            if w is None or w.source != "plan":
                return
            if req.source == "plan":
                if (req.superseding or w.plan is None or w.plan_start_ns is None
                        or w.plan_start_ns < (req.plan_start_ns or 0)):
                    return
                per_step = (time.monotonic() - t0) / (step + 1)  # this rollout's pace
                left = per_step * max(mine - step - 1, 0)
                own = per_step * (self.params.steps or default) * self._model_calls(w)
                end_s = (w.plan_start_ns + w.plan.duration_ns - self._robot_now_ns()) / NS
                if not own <= end_s < left + own:
                    return
                w.superseding = True
            raise RolloutCancelled("a newer plan is waiting")
        return check

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
        s, w = self.stats, self.worker
        level, message = level_for(self.errors, ok_message=f"{s.rollouts.total} rollouts")
        values = {**s.values(), "dropped_requests": w.dropped,
                  "preempted_horizon": self.preempted["horizon"],
                  "superseded_plans": self.preempted["plan"], "held_for_inputs": w.held,
                  "input_errors": self.errors.counts["input"],
                  "last_error": self.errors.last_error, "model_id": self.model_id}
        self._diag_pub.publish(diagnostic_array(f"{self.get_name()}: lookahead",
                                                self.get_clock().now().nanoseconds, level,
                                                message, values))

    # ------------------------------------------------------------ shutdown
    def close(self) -> None:
        """Stop the worker and the model process (``NodeRunner`` calls it before
        ``destroy_node``; calling it again does nothing). A rollout in progress in the model
        process is cut short, so shutting down never waits for the model."""
        worker = getattr(self, "worker", None)  # None when __init__ failed early
        if worker is not None:
            worker.stop()
        close_model = getattr(getattr(self, "model", None), "close", None)
        if close_model is not None:
            close_model()
        if worker is not None:
            worker.close()

    def destroy_node(self) -> None:
        self.close()
        super().destroy_node()


def main(args=None) -> None:
    run_node(LookaheadNode, args)


if __name__ == "__main__":
    main()
