"""Long-horizon rollouts (``WorldModel.predict_long``): chunks of ``predict`` chained on the
previous chunk's last predicted frame (or re-anchored on real frames), any length, seeded,
steps counted across chunks, bad inputs refused with one clear error."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vap_ros.errors import ModelError, RolloutCancelled
from vap_ros.model import WorldModel
from vap_ros.model.long_rollout import chunk_seed, chunk_starts

T = 5  # the tiny preset's clip: frame 0 + 4 new frames


@pytest.fixture(scope="module")
def wm():
    return WorldModel.from_preset("tiny", seed=0)


def video(length, views=2, seed=0):
    rng = np.random.default_rng(seed)
    first = rng.integers(0, 255, (views, 32, 32, 3), np.uint8)
    prompts = rng.integers(0, 255, (views, length, 32, 32, 3), np.uint8)
    return first, prompts


def test_a_rollout_within_one_clip_is_predicts_video(wm):
    """L = T is exactly ``predict`` with the same seed; L < T is ``predict`` on the prompt held
    at its last frame, cut to L."""
    first, prompts = video(T)
    want = wm.predict(first, prompts, steps=2, seed=3)
    np.testing.assert_array_equal(wm.predict_long(first, prompts, steps=2, seed=3), want)
    held = np.concatenate([prompts[:, :3], np.repeat(prompts[:, 2:3], 2, axis=1)], axis=1)
    np.testing.assert_array_equal(wm.predict_long(first, prompts[:, :3], steps=2, seed=3),
                                  wm.predict(first, held, steps=2, seed=3)[:, :3])


@pytest.mark.parametrize("length, calls", [(1, 0), (3, 1), (7, 2), (13, 3)])
def test_any_length(wm, length, calls):
    first, prompts = video(length)
    assert len(chunk_starts(length, T)) == calls
    out = wm.predict_long(first, prompts, steps=2, seed=1)
    assert out.shape == (2, length, 32, 32, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, 0], first)
    np.testing.assert_array_equal(wm.predict_long(first, prompts, steps=2, seed=1), out)
    if length > 1:
        other = wm.predict_long(first, prompts, steps=2, seed=2)
        assert not np.array_equal(other[:, 1:], out[:, 1:])


@pytest.mark.parametrize("length, chunk", [(7, None), (13, None), (7, 2)])
def test_each_chunk_is_predict_on_the_previous_chunks_last_frame(wm, length, chunk):
    """Chunk k = ``predict`` conditioned on the rollout's own frame at its start, with the
    prompt segment starting at that frame (its last frame repeated past the end) and the
    chunk's seed."""
    first, prompts = video(length)
    out = wm.predict_long(first, prompts, chunk=chunk, steps=2, seed=4)
    stride = chunk or T - 1
    starts = chunk_starts(length, T, chunk)
    assert starts == list(range(0, length - 1, stride)) and len(starts) >= 2
    for k, s in enumerate(starts):
        index = np.minimum(np.arange(s, s + T), length - 1)
        clip = wm.predict(out[:, s], prompts[:, index], steps=2, seed=chunk_seed(4, k))
        n = min(stride, length - 1 - s)
        np.testing.assert_array_equal(out[:, s + 1:s + 1 + n], clip[:, 1:1 + n])


def test_chunk_seeds():
    assert chunk_seed(7, 0) == 7  # a one-clip rollout samples exactly as predict
    seeds = {chunk_seed(s, k) for s in (0, 1) for k in (1, 2, 3)}
    assert len(seeds) == 6 and not seeds & {0, 1, 2, 3}
    assert chunk_seed(5, 2) == chunk_seed(5, 2)


def _ramp_model():
    """A tiny model whose denoiser predicts frame j of a clip as its conditioning frame + 10 j
    (uint8 levels): the rollout shows which frame each chunk was conditioned on."""
    wm = WorldModel.from_preset("tiny", seed=0, cond_dropout=0.0)

    def fake(x, t, *a, **k):  # x: (B, F, noisy 3 + image condition 3, h, w), x0 prediction
        cond = x[:, :, 3:6]
        ramp = torch.arange(x.shape[1], dtype=x.dtype).view(1, -1, 1, 1, 1) * (10 / 127.5)
        return cond + ramp

    wm.denoiser.forward = fake
    return wm


def test_chained_on_the_predicted_frame_or_re_anchored_on_the_real_one():
    wm = _ramp_model()
    first = np.zeros((1, 32, 32, 3), np.uint8)
    prompts = np.zeros((1, 11, 32, 32, 3), np.uint8)
    out = wm.predict_long(first, prompts, steps=2)
    # chunk 0 ramps 0..40; chunk 1 starts from its predicted 40, chunk 2 from 80
    np.testing.assert_array_equal(out[0, :, 0, 0, 0], 10 * np.arange(11))
    real = np.full((1, 11, 32, 32, 3), 200, np.uint8)
    real[:, 0] = first[:, 0]
    anchored = wm.predict_long(first, prompts, steps=2, anchors=real)
    np.testing.assert_array_equal(anchored[0, :, 0, 0, 0],
                                  [0, 10, 20, 30, 40, 210, 220, 230, 240, 210, 220])
    # chunk = 2: a new chunk every 2 frames, each from the real frame there
    two = wm.predict_long(first, prompts, chunk=2, steps=2, anchors=real)
    np.testing.assert_array_equal(two[0, :, 0, 0, 0],
                                  [0, 10, 20, 210, 220, 210, 220, 210, 220, 210, 220])


def test_raw_actions_are_segmented_like_the_prompts():
    wm = WorldModel.from_preset("tiny", seed=0, conditioning="raw_action")
    first = video(1)[0]
    actions = np.random.default_rng(0).normal(size=(7, 8)).astype(np.float32)
    out = wm.predict_long(first, actions=actions, steps=2, seed=1)
    assert out.shape == (2, 7, 32, 32, 3)
    clip = wm.predict(out[:, 4], actions=actions[[4, 5, 6, 6, 6]], steps=2,
                      seed=chunk_seed(1, 1))
    np.testing.assert_array_equal(out[:, 5:], clip[:, 1:3])


def test_steps_count_across_chunks_and_a_cancel_stops_the_rollout(wm):
    first, prompts = video(13, views=1)
    steps: list[int] = []
    wm.predict_long(first, prompts, steps=2, callback=steps.append)
    assert steps == list(range(6))  # 3 chunks x 2 steps, one counter

    def cancel_in_the_second_chunk(i):
        steps.append(i)
        if i == 3:
            raise RolloutCancelled("stop")

    steps.clear()
    with pytest.raises(RolloutCancelled, match="stop"):
        wm.predict_long(first, prompts, steps=2, callback=cancel_in_the_second_chunk)
    assert steps == [0, 1, 2, 3]


@pytest.mark.parametrize("change, words", [
    (lambda f, p: {"chunk": 0}, r"chunk=0: expected an integer 1\.\.4"),
    (lambda f, p: {"chunk": 5}, r"chunk=5: expected an integer 1\.\.4"),
    (lambda f, p: {"chunk": 2.0}, r"chunk=2\.0: expected an integer"),
    (lambda f, p: {"prompts": p[:, :0]}, "the rollout has 0 frames: expected L >= 1"),
    (lambda f, p: {"prompts": None}, r"prompts must be a numpy uint8 array \(V, L, H, W, 3\)"),
    (lambda f, p: {"prompts": p.astype(np.float32)}, "prompts dtype float32: expected uint8"),
    (lambda f, p: {"prompts": p[:1]}, "prompts have 1 views but first_frames have 2"),
    (lambda f, p: {"anchors": p[:, :6]}, "anchors have 6 frames; the rollout has 7"),
    (lambda f, p: {"anchors": p[:1]}, "anchors have 1 views but first_frames have 2"),
    (lambda f, p: {"anchors": p.astype(np.int16)}, "anchors dtype int16: expected uint8"),
    (lambda f, p: {"anchors": p[..., :16, :]}, "anchor frames are 32x16"),
    (lambda f, p: {"first_frames": f[..., :16, :]}, "first_frames are 32x16"),
])
def test_bad_inputs(wm, change, words):
    first, prompts = video(7)
    args = {"first_frames": first, "prompts": prompts, "steps": 1, **change(first, prompts)}
    with pytest.raises(ModelError, match=words):
        wm.predict_long(**args)


def test_bad_inputs_of_other_conditionings():
    first = video(1)[0]
    wa = WorldModel.from_preset("tiny", seed=0, conditioning="raw_action")
    with pytest.raises(ModelError, match=r"actions shape \(6, 8\): expected \(7, 8\)"):
        wa.predict_long(first, video(7)[1], actions=np.zeros((6, 8)), steps=1)
    with pytest.raises(ModelError, match="needs actions"):
        wa.predict_long(first, steps=1)
    wn = WorldModel.from_preset("tiny", seed=0, conditioning="none")
    with pytest.raises(ModelError, match=r"needs prompts .* to know its length L"):
        wn.predict_long(first, steps=1)
    assert wn.predict_long(first, video(6)[1], steps=1).shape == (2, 6, 32, 32, 3)
