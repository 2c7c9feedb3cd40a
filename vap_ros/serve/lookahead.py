"""What one lookahead rollout computes, free of ROS: plan → prompt times → prompts (of the
model's prompt type) → world model → predicted video. The lookahead node, its action/service
and the node benchmark all go through ``Lookahead.run``.

Length: one clip of the model's ``num_frames``; with ``max_rollout_s`` > 0, a plan that ends
later than one clip is rendered to its end (at most ``max_rollout_s`` after ``t_ref``) and
predicted with the model's ``predict_long`` (autoregressive chunks).

Timing: the model's frame 0 is the conditioning image, so prompt frame ``k`` shows the robot at
``t_ref + k / fps`` where ``t_ref`` is the newest conditioning image's stamp; the plan is sampled
there (held at its first/last point outside its time range), and a camera whose image is older
than ``t_ref`` gets offsets ``t_ref - stamp + k / fps`` relative to its own image stamp.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

import numpy as np

from vap_ros.camera import Camera

# the resize training clips use (data/clips.py), so the conditioning frame matches training
from vap_ros.data.clips import resize_frame
from vap_ros.errors import ModelError, StaleInputError
from vap_ros.model.config import check_prompt_type
from vap_ros.model.long_rollout import chunk_starts
from vap_ros.robot import JointTrajectory

__all__ = ["JointSample", "Lookahead", "Predictor", "RolloutInputs", "RolloutRequest",
           "RolloutResult", "assemble_inputs", "hold_still", "prompt_stamps"]

NS = 1_000_000_000


class Predictor(Protocol):
    """What the lookahead needs from a world model (``vap_ros.model.WorldModel`` is one).

    ``config`` has ``height``, ``width``, ``num_frames`` (conditioning frame included), ``fps``
    (and ``conditioning``, ``prompt_type``: read as "skeleton" when missing).
    ``predict(first_frames (V, H, W, 3) uint8, prompts (V, T, H, W, 3) uint8, steps=, seed=)``
    returns (V, T, H, W, 3) uint8; ``predict_long`` (only for rollouts longer than one clip)
    the same for prompts (V, L, H, W, 3) of any length.
    """

    @property
    def config(self) -> Any: ...

    def predict(self, first_frames: np.ndarray, prompts: np.ndarray, **kw) -> np.ndarray: ...

    def predict_long(self, first_frames: np.ndarray, prompts: np.ndarray,
                     **kw) -> np.ndarray: ...


def prompt_stamps(t_ref_ns: int, num_frames: int, fps: float) -> np.ndarray:
    """(T,) int64 stamps of the model's frames: ``t_ref + k / fps`` (the one definition)."""
    return t_ref_ns + np.round(np.arange(num_frames) * (NS / fps)).astype(np.int64)


def hold_still(joint_names: Sequence[str], q: np.ndarray, num_frames: int,
               fps: float) -> JointTrajectory:
    """The "hold still" plan: the arm positions ``q`` ((T, n) per frame, or (n,) held) at the
    model's frame times (relative stamps from 0)."""
    q = np.asarray(q, np.float64)
    if q.ndim == 1:
        q = np.repeat(q[None], num_frames, axis=0)
    return JointTrajectory(tuple(joint_names), q, prompt_stamps(0, num_frames, fps))


@dataclass
class RolloutRequest:
    """One request for a rollout, as the worker queues it.

    Attributes:
        source: what asked: "plan", "horizon", "action", "bench".
        plan: the validated plan (robot order, stamps relative to its start), None = hold still.
        plan_msg: the plan as it came (echoed in the rollout messages), or None.
        plan_start_ns: absolute plan start; None = at the conditioning image.
        t_received: time.monotonic() at receipt.
        callback_cpu_s: CPU time spent in the receiving callback.
        superseding: a plan whose rollout stopped an older plan's (its own is never stopped
            for a newer one: that could starve every plan when they come faster than rollouts).
    """

    source: str
    plan: JointTrajectory | None
    plan_msg: Any
    plan_start_ns: int | None
    t_received: float
    callback_cpu_s: float = 0.0
    superseding: bool = False


@dataclass(frozen=True)
class JointSample:
    """The newest joint state: stamp, arm positions (robot order, rad), gripper width (m)."""

    stamp_ns: int
    arm_q: np.ndarray
    gripper_width_m: float | None


@dataclass
class RolloutInputs:
    """Everything a rollout needs, already converted.

    Attributes:
        cameras: V calibrated cameras (full resolution).
        images: V RGB (H, W, 3) uint8 conditioning images (any size; resized to the model's).
        image_stamps_ns: (V,) capture stamps.
        plan: the validated plan (robot arm order, absolute stamps) or None = hold still.
        current_q: (n,) arm positions for hold-still (and the width fallback below).
        current_width_m: gripper width when the plan carries none.
    """

    cameras: Sequence[Camera]
    images: Sequence[np.ndarray]
    image_stamps_ns: Sequence[int]
    plan: JointTrajectory | None = None
    current_q: np.ndarray | None = None
    current_width_m: float | None = None


def assemble_inputs(cameras: Sequence[Camera], images: Sequence[np.ndarray],
                    image_stamps_ns: Sequence[int], *, plan: JointTrajectory | None,
                    plan_start_ns: int | None, joints: JointSample | None, now_ns: int,
                    max_age_ns: int, joint_topic: str = "/joint_states") -> RolloutInputs:
    """The input policy of one rollout (images already decoded and age-checked).

    - A plan's stamps (relative, 0 = its start) become absolute: from ``plan_start_ns``, or from
      the newest image's stamp when the plan has no start ("start now").
    - Hold still (``plan`` None) needs a joint state no older than ``max_age_ns`` at ``now_ns``
      (0 = any age).
    - A fresh joint state gives the current pose and the gripper width (used when the plan
      carries none); a stale one is not used.

    Raises:
        StaleInputError: hold still without a (fresh) joint state.
    """
    fresh = joints is not None and joints.arm_q.size > 0 and (
        max_age_ns == 0 or now_ns - joints.stamp_ns <= max_age_ns)
    if plan is None and not fresh:
        if joints is None or not joints.arm_q.size:
            raise StaleInputError(f"no joint state on {joint_topic}: cannot hold still",
                                  source=joint_topic)
        age = (now_ns - joints.stamp_ns) / NS
        raise StaleInputError(f"newest joint state on {joint_topic} is {age:.3f} s old "
                              f"(max_input_age_s {max_age_ns / NS:g}): refused",
                              source=joint_topic, age_s=age, max_age_s=max_age_ns / NS)
    absolute = None
    if plan is not None:
        start = plan_start_ns if plan_start_ns is not None else max(image_stamps_ns)
        absolute = JointTrajectory(plan.joint_names, plan.positions, plan.stamps_ns + start,
                                   plan.gripper_width_m)
    current = joints if fresh else None
    return RolloutInputs(list(cameras), list(images), [int(s) for s in image_stamps_ns],
                         absolute, None if current is None else current.arm_q,
                         None if current is None else current.gripper_width_m)


@dataclass
class RolloutResult:
    camera_names: tuple[str, ...]
    image_stamps_ns: tuple[int, ...]
    offsets_ns: np.ndarray  # (V, L) per camera, relative to its image stamp
    frames: np.ndarray  # (V, L, H, W, 3) uint8 predicted (L = T for one clip)
    prompts: np.ndarray  # (V, L, H, W, 3) uint8 prompt frames that conditioned them
    prompt_q: np.ndarray  # (L, n) sampled arm positions
    inference_s: float
    prepare_s: float
    timings: dict = field(default_factory=dict)


class Lookahead:
    """Renders prompts for a plan and runs the world model.

    Args:
        renderer: the ``PromptRenderer`` (the one training clips use) of the model's prompt
            type (``PromptRenderer.from_preset(robot, model.config.prompt_type)``).
        model: a ``Predictor``.
        steps: default denoising steps (0 = the model's default).

    Raises:
        ConfigError: the renderer draws another prompt type than the model takes (checked
            again before every rollout: a node may swap the renderer).
        ModelError: a model config without frames or frame rate.
    """

    def __init__(self, renderer, model: Predictor, steps: int = 0) -> None:
        self.renderer = renderer
        self.model = model
        self._check_prompt_type()
        self.steps = int(steps)
        cfg = model.config
        self.height, self.width = int(cfg.height), int(cfg.width)
        self.num_frames, self.fps = int(cfg.num_frames), float(cfg.fps)
        self._scaled: dict[int, tuple[Camera, Camera]] = {}
        if self.num_frames < 1 or self.fps <= 0:
            raise ModelError(f"model config has num_frames {self.num_frames}, fps {self.fps}")

    def _check_prompt_type(self) -> None:
        check_prompt_type(self.model.config, getattr(self.renderer, "prompt_type", "skeleton"),
                          "the lookahead's prompt renderer",
                          "render with PromptRenderer(..., prompt_type=model.config.prompt_type)")

    def _at_model_size(self, cam: Camera) -> Camera:
        """The camera with intrinsics scaled to the model's size (cached per camera)."""
        if (cam.height, cam.width) == (self.height, self.width):
            return cam
        hit = self._scaled.get(id(cam))
        if hit is None or hit[0] is not cam:
            if len(self._scaled) > 64:
                self._scaled.clear()
            hit = self._scaled[id(cam)] = (cam, cam.scaled(self.width, self.height))
        return hit[1]

    def rollout_frames(self, t_ref_ns: int, plan_end_ns: int | None,
                       max_rollout_s: float = 0.0) -> int:
        """Frames of a rollout from ``t_ref``: one clip (``num_frames``); with ``max_rollout_s``
        > 0 and a plan ending later than that, enough frames to reach the plan's end, at most
        ``max_rollout_s`` after ``t_ref``."""
        if max_rollout_s <= 0 or plan_end_ns is None:
            return self.num_frames
        to_end = math.ceil((plan_end_ns - t_ref_ns) * self.fps / NS - 1e-6)
        cap = math.floor(max_rollout_s * self.fps + 1e-6)
        return max(self.num_frames, 1 + min(to_end, cap))

    def model_calls(self, frames: int) -> int:
        """How many clips the model samples for a rollout of ``frames`` frames."""
        return max(1, len(chunk_starts(frames, self.num_frames)))

    def prompt_trajectory(self, inputs: RolloutInputs, frames: int | None = None
                          ) -> tuple[np.ndarray, np.ndarray | None, int]:
        """(q (L, n), gripper width (L,), t_ref ns) for the model's frames (L = ``frames``,
        default one clip)."""
        n = frames or self.num_frames
        t_ref = int(max(inputs.image_stamps_ns))
        stamps = prompt_stamps(t_ref, n, self.fps)
        if inputs.plan is not None:
            s = inputs.plan.sample(stamps)
            q = s.positions
            width = s.gripper_width_m
        elif inputs.current_q is not None and inputs.current_q.size:
            q = np.repeat(np.asarray(inputs.current_q, np.float64)[None], n, 0)
            width = None
        else:
            raise ModelError("no plan and no current joint state: nothing to predict")
        if width is None:
            w = inputs.current_width_m
            width = None if w is None else np.full(n, float(w))
        return q, width, t_ref

    def prepare(self, inputs: RolloutInputs, frames: int | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """(first frames (V, H, W, 3), prompts (V, L, H, W, 3), q (L, n), t_ref) at the
        model's size (L = ``frames``, default one clip)."""
        self._check_prompt_type()
        q, width, t_ref = self.prompt_trajectory(inputs, frames)
        size = (self.height, self.width)
        # poses repeat when holding still or past a plan's end: render each distinct pose once
        key = q if width is None else np.concatenate([q, np.asarray(width)[:, None]], axis=1)
        _, first_index, inverse = np.unique(key, axis=0, return_index=True,
                                            return_inverse=True)
        rows = np.sort(first_index)
        remap = np.searchsorted(rows, first_index)[inverse.reshape(-1)]
        prompts = self.renderer.render(q[rows], [self._at_model_size(c) for c in inputs.cameras],
                                       None if width is None else np.asarray(width)[rows],
                                       size=size)
        if len(rows) < len(q):
            prompts = prompts[:, remap]
        first = np.stack([resize_frame(img, size) for img in inputs.images])
        return first, prompts, q, t_ref

    def run(self, inputs: RolloutInputs, *, seed: int = 0, steps: int = 0,
            callback=None, max_rollout_s: float = 0.0) -> RolloutResult:
        """Prompts → model → result. ``callback(step_index)`` after each denoising step (it
        may raise ``RolloutCancelled`` to stop the rollout; steps count across the chunks of a
        long rollout). ``max_rollout_s`` > 0: a plan longer than one clip is predicted to its
        end, at most this long (``rollout_frames``), with the model's ``predict_long``."""
        t0 = time.perf_counter()
        plan_end = None if inputs.plan is None else int(inputs.plan.stamps_ns[-1])
        n = self.rollout_frames(int(max(inputs.image_stamps_ns)), plan_end, max_rollout_s)
        first, prompts, q, t_ref = self.prepare(inputs, n)
        t1, c1 = time.perf_counter(), time.thread_time()
        kw: dict[str, Any] = {"seed": int(seed)}
        steps = int(steps) or self.steps
        if steps:
            kw["steps"] = steps
        if callback is not None:
            kw["callback"] = callback
        predict = self.model.predict if n == self.num_frames else self.model.predict_long
        frames = np.asarray(predict(first, prompts, **kw))
        t2, c2 = time.perf_counter(), time.thread_time()
        if frames.shape != prompts.shape or frames.dtype != np.uint8:
            raise ModelError(f"world model returned {frames.shape} {frames.dtype}, expected "
                             f"{prompts.shape} uint8")
        k = prompt_stamps(0, n, self.fps)
        offsets = np.stack([k + (t_ref - int(s)) for s in inputs.image_stamps_ns])
        return RolloutResult(
            camera_names=tuple(c.name for c in inputs.cameras),
            image_stamps_ns=tuple(int(s) for s in inputs.image_stamps_ns),
            offsets_ns=offsets, frames=frames, prompts=prompts, prompt_q=q,
            inference_s=t2 - t1, prepare_s=t1 - t0, timings={"model_cpu_s": c2 - c1})
