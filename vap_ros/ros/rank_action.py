"""The lookahead node's ``RankPlans`` action: "which of these plans gets the scene closest to this
goal?" Converts the goal (plans, a goal image per camera) and the node's current inputs (newest
image and calibration per camera) and calls ``vap_ros.serve.ranking.rank_plans``; the result is
its scores and ranking (and, on request, every plan's predicted video).

The model is the node's, shared with its rollouts through the node's ``ModelGate``
(``vap_ros.serve.gate``): the ranking predicts one plan at a time as a yielding holder, so
waiting rollouts go first between two plans, and a topic plan that comes in during a plan's
prediction stops it between two denoising steps (that plan is predicted again afterwards, with
the same result). Feedback: waiting for inputs, then the plan being predicted and its denoising
steps; cancel stops between two steps."""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np
from rclpy.action import ActionServer, CancelResponse
from rclpy.callback_groups import ReentrantCallbackGroup

from vap_ros.camera import Camera
from vap_ros.data.messages import image_from_msg
from vap_ros.errors import ConfigError, ModelError, RolloutCancelled, VapError
from vap_ros.ros.convert import video_rollout_msg
from vap_ros.serve import RolloutRequest, prompt_stamps
from vap_ros.serve.gate import GatedPredictor
from vap_ros.serve.ranking import RankResult, rank_plans, rollout_length
from vap_ros_msgs.action import RankPlans

__all__ = ["RankPlansServer", "goal_image", "goal_messages"]

NS = 1_000_000_000


def goal_messages(request, names: Sequence[str], configured: Sequence[str]) -> list:
    """Pair the goal images with their cameras → (index in ``goal_images``, Image message) for
    each ranked camera of ``names``, in that order; goals of the other ``configured`` cameras
    are ignored.

    Raises:
        ConfigError: names and images that do not pair up, a goal for a camera that is not
            configured or given twice, or a ranked camera without a goal.
    """
    cams, images = list(request.goal_cameras), list(request.goal_images)
    if len(cams) != len(images):
        raise ConfigError(f"goal_cameras has {len(cams)} names for {len(images)} goal_images "
                          "(expected one camera name per goal image)")
    by_camera: dict = {}
    for i, name in enumerate(cams):
        if name not in configured:
            raise ConfigError(f"goal_cameras[{i}]: unknown camera {name!r}; configured: "
                              f"{list(configured)}")
        if name in by_camera:
            raise ConfigError(f"goal_cameras[{i}]: a second goal image for camera {name!r} "
                              "(expected one per camera)")
        by_camera[name] = (i, images[i])
    missing = [n for n in names if n not in by_camera]
    if missing:
        raise ConfigError(f"no goal image for cameras {missing} (expected one per ranked camera "
                          f"{list(names)} in goal_cameras/goal_images)")
    return [by_camera[n] for n in names]


def goal_image(index: int, msg, cam: Camera) -> np.ndarray:
    """Goal image ``goal_images[index]`` of camera ``cam`` → RGB (H, W, 3) uint8.

    Raises:
        ConfigError: it cannot be decoded, or its size is not the camera's.
    """
    try:
        rgb = image_from_msg(msg)
    except VapError as err:
        raise ConfigError(f"goal_images[{index}] (camera {cam.name!r}): {err}") from err
    if rgb.shape[:2] != (cam.height, cam.width):
        raise ConfigError(f"goal_images[{index}] (camera {cam.name!r}) is {rgb.shape[1]}x"
                          f"{rgb.shape[0]}, expected {cam.width}x{cam.height} (the camera's "
                          "CameraInfo size)")
    return rgb


class RankPlansServer:
    """Serves ``name`` for a ``LookaheadNode`` (its plan parsing, inputs, worker, model and
    model gate)."""

    def __init__(self, node, name: str) -> None:
        self.node = node
        self.server = ActionServer(node, RankPlans, name, execute_callback=self._execute,
                                   cancel_callback=lambda _goal: CancelResponse.ACCEPT,
                                   callback_group=ReentrantCallbackGroup())

    def _execute(self, goal):
        node, t = self.node, time.monotonic()
        request, result = goal.request, RankPlans.Result()
        try:
            self._rank(goal, request, result, t)
            result.success = True
            node.stats.action_goals += 1
            goal.succeed()
        except RolloutCancelled as err:
            result.message = str(err)
            if goal.is_cancel_requested:
                goal.canceled()
            else:  # not the client's cancel: a preemption never ends a goal
                goal.abort()
        except VapError as err:
            result.message = str(err)
            node.errors.error("rank_plans", f"goal aborted: {err}")
            goal.abort()
        except Exception as err:  # noqa: BLE001 - the goal ends, the node goes on
            result.message = f"{type(err).__name__}: {err}"
            node.errors.error("rank_plans", f"goal aborted: {result.message}", kind="internal")
            goal.abort()
        if not result.success:
            result.scores, result.psnr, result.ranking, result.rollouts = [], [], [], []
        return result

    def _rank(self, goal, request, result, t0: float) -> None:
        node = self.node
        if not request.plans:
            raise ConfigError("no plans to rank (expected at least one "
                              "trajectory_msgs/JointTrajectory in plans)")
        plans = []
        for i, msg in enumerate(request.plans):
            try:
                plans.append(node.plan_from_msg(msg))
            except VapError as err:
                raise ConfigError(f"plans[{i}]: {err}") from err
        names = tuple(request.cameras) or node.camera_names
        unknown = [n for n in names if n not in node.camera_names]
        if unknown:
            raise ConfigError(f"unknown cameras {unknown}; configured: {list(node.camera_names)}")
        if len(set(names)) != len(names):
            raise ConfigError(f"cameras {list(names)}: a camera listed twice (expected each "
                              "at most once)")
        goals = goal_messages(request, names, node.camera_names)
        steps = int(request.steps) or node.params.steps or node.core.model.config.steps
        frames = rollout_length(plans, node.core.fps)
        steps_per_plan = steps * node.core.model_calls(frames)

        def feedback(stage: str, plan: int = 0, step: int = 0) -> None:
            goal.publish_feedback(RankPlans.Feedback(
                stage=stage, plan=plan, plans=len(plans), step=step, steps=steps_per_plan,
                elapsed_s=time.monotonic() - t0))

        def cancelled() -> None:
            if goal.is_cancel_requested:
                raise RolloutCancelled("cancelled by the action client")
            if node.worker.stopping:
                raise ModelError("the node is shutting down")

        def on_plan(plan: int) -> None:
            cancelled()
            feedback("predicting", plan)

        def on_step(plan: int, step: int) -> None:
            cancelled()
            feedback("predicting", plan, step + 1)

        feedback("waiting_for_inputs")
        req = RolloutRequest("rank", plans[0], None, None, t0)
        missing = node.worker.wait_for_inputs(lambda: node.missing(req, names),
                                              node.params.startup_wait_s)
        if missing:
            node.stats.refused_missing += 1
            raise ConfigError(f"refused after waiting {node.params.startup_wait_s:g} s "
                              "(startup_wait_s) for its inputs; still missing: "
                              + "; ".join(missing))
        cameras = node.inputs.cameras(names)
        goal_rgb = [goal_image(i, msg, cam) for (i, msg), cam in zip(goals, cameras)]
        now = node.get_clock().now().nanoseconds
        max_age = 0 if node.params.freeze_inputs else int(node.params.max_input_age_s * NS)
        current = [node.inputs.image(n, now, max_age) for n in names]
        model = GatedPredictor(
            node.model, node.model_gate, source="rank",
            preempt=lambda: node.model_gate.waiting("plan") > 0,
            on_call=on_plan, on_step=on_step)
        res = rank_plans(model, [c[0] for c in current], cameras, plans, goal_rgb,
                         renderer=node.core.renderer, frames=frames, steps=steps,
                         seed=int(request.seed), keep_videos=bool(request.return_rollouts))
        result.scores = [float(s) for s in res.scores["region"]]
        result.psnr = [float(s) for s in res.scores["psnr"]]
        result.ranking = [int(i) for i in res.ranking]
        result.cameras, result.frames = list(names), int(res.frames)
        if request.return_rollouts:
            result.rollouts = self._rollouts(res, request, cameras, current, model.seconds)

    def _rollouts(self, res: RankResult, request, cameras, current, seconds) -> list:
        assert res.videos is not None and res.prompts is not None
        offsets = prompt_stamps(0, res.frames, self.node.core.fps)
        return [video_rollout_msg(cam.name, res.videos[k, v], res.prompts[k, v], offsets,
                                  current[v][1], cam.frame_id or current[v][2],
                                  request.plans[k], self.node.model_id, int(seconds[k] * NS))
                for k in range(len(request.plans)) for v, cam in enumerate(cameras)]
