"""Long-horizon rollouts: a prompt video of any length, predicted as autoregressive chunks.

The model predicts clips of T = ``num_frames`` frames whose frame 0 is the conditioning image.
A rollout of L frames is cut into chunks that start every ``stride`` frames (T - 1 by default):
chunk k starts at frame ``s_k = k * stride``, is conditioned on frame ``s_k`` (the previous
chunk's prediction there, or the real frame when ``anchors`` are given; chunk 0 on the given
first frame) and on the T prompt frames ``s_k .. s_k + T - 1`` (the prompt's last frame repeated
past its end: the robot holds still), and contributes its new frames ``s_k + 1 .. s_k + stride``
(cut back to L). Chunk 0 samples with ``seed`` itself, so a rollout that fits one clip is exactly
``predict``'s video; chunk k > 0 with a seed derived from (seed, k). A model trained with
conditioning-frame noise (``cond_aug``) gets that noise (``cond_noise``) on the chunks that
start from a predicted frame.

Free of torch: the chunk arithmetic is shared with the serving layer (``vap_ros.serve``), and
``predict_chunks`` drives any ``predict`` with the ``WorldModel.predict`` interface.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable

import numpy as np

from vap_ros.errors import ModelError

__all__ = ["chunk_seed", "chunk_starts", "chunk_stride", "predict_chunks", "segment"]


def chunk_stride(chunk: Any, num_frames: int) -> int:
    """New frames per chunk: ``chunk`` (1 .. T-1), or T - 1 when None.

    Raises:
        ModelError: ``chunk`` is not an integer in 1 .. T-1, or T < 2 (no new frames).
    """
    top = int(num_frames) - 1
    if top < 1:
        raise ModelError(f"num_frames {num_frames}: a model that predicts no new frames "
                         "cannot roll out in chunks (expected num_frames >= 2)")
    if chunk is None:
        return top
    if (isinstance(chunk, bool) or not isinstance(chunk, numbers.Integral)
            or not 1 <= int(chunk) <= top):
        raise ModelError(f"chunk={chunk!r}: expected an integer 1..{top} (new frames per chunk; "
                         f"num_frames {num_frames} includes the conditioning frame)")
    return int(chunk)


def chunk_starts(length: int, num_frames: int, chunk: Any = None) -> list[int]:
    """The frame each chunk of an L-frame rollout starts at (its conditioning frame): 0, s, 2s,
    … while frames remain after it. Its length is the number of model calls (0 for L = 1)."""
    return list(range(0, max(int(length) - 1, 0), chunk_stride(chunk, num_frames)))


def chunk_seed(seed: int, k: int) -> int:
    """Chunk k's sampler seed: ``seed`` itself for chunk 0, else derived from (seed, k)."""
    if k == 0:
        return int(seed)
    entropy = [int(seed) % 2**64, int(k)]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def segment(x: np.ndarray, start: int, frames: int, axis: int) -> np.ndarray:
    """``frames`` entries of ``x`` from ``start`` along ``axis``, its last entry repeated past
    its end (a copy)."""
    index = np.minimum(np.arange(start, start + frames), x.shape[axis] - 1)
    return np.take(x, index, axis=axis)


def predict_chunks(predict: Callable[..., np.ndarray], first_frames: np.ndarray, length: int,
                   num_frames: int, steps: int, *, prompts: np.ndarray | None = None,
                   actions: np.ndarray | None = None, anchors: np.ndarray | None = None,
                   chunk: Any = None, seed: int = 0, callback=None, cond_noise: float = 0.0,
                   **kw: Any) -> np.ndarray:
    """Roll ``predict`` out over ``length`` frames (see the module docstring).

    Args:
        predict: ``WorldModel.predict``-like: (first_frames (V, H, W, 3), prompts=, actions=,
            steps=, seed=, callback=, **kw) -> uint8 (V, T, H, W, 3), frame 0 = the first frame.
        first_frames: checked uint8 (V, H, W, 3).
        length: L >= 1 frames to return, frame 0 included.
        num_frames: T, the model's clip length.
        steps: denoising steps per chunk (the step count ``callback`` advances by per chunk).
        prompts: checked (V, L, H, W, 3) or None; actions: checked (L, D) or None.
        anchors: checked uint8 (V, L, H, W, 3) real frames or None: chunk k > 0 is conditioned
            on ``anchors[:, s_k]`` instead of the prediction there. The output keeps the
            prediction at every frame but 0 (the real frames only condition).
        callback: ``callback(step)`` after each denoising step, ``step`` counted across chunks
            (chunk k's step i is ``k * steps + i``); it may raise to stop the rollout.
        cond_noise: passed to ``predict`` as ``cond_noise=`` for every chunk conditioned on a
            predicted frame (k > 0 without ``anchors``); 0: never passed.
        kw: further arguments of ``predict`` (guidance_scale, eta).
    Returns:
        uint8 (V, L, H, W, 3); frame 0 is ``first_frames``.
    Raises:
        ModelError: a bad ``chunk``, or what ``predict`` raises.
    """
    starts = chunk_starts(length, num_frames, chunk)
    stride = chunk_stride(chunk, num_frames)
    out = np.empty((first_frames.shape[0], int(length)) + first_frames.shape[1:], np.uint8)
    out[:, 0] = first_frames
    for k, start in enumerate(starts):
        if start == 0:
            cond = first_frames
        else:
            cond = np.ascontiguousarray((out if anchors is None else anchors)[:, start])
        args: dict[str, Any] = dict(kw)
        if prompts is not None:
            args["prompts"] = segment(prompts, start, num_frames, axis=1)
        if actions is not None:
            args["actions"] = segment(actions, start, num_frames, axis=0)
        if callback is not None:
            args["callback"] = lambda i, _o=k * steps: callback(_o + i)
        if cond_noise and start > 0 and anchors is None:
            args["cond_noise"] = cond_noise
        video = np.asarray(predict(cond, steps=steps, seed=chunk_seed(seed, k), **args))
        n = min(stride, length - 1 - start)
        out[:, start + 1:start + 1 + n] = video[:, 1:1 + n]
    return out
