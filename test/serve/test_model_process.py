"""The world model in a process of its own: the same predictions as in this process, one clear
error for bad inputs (and the child keeps serving), a restart after the child dies."""

import os
import signal

import numpy as np
import pytest

from vap_ros.errors import ModelError
from vap_ros.serve import load_world_model
from vap_ros.serve.model_process import ModelProcess


@pytest.fixture(scope="module")
def served():
    mp = ModelProcess("tiny", seed=0, threads=1)
    yield mp
    mp.close()


def inputs(cfg, views=2, seed=0):
    rng = np.random.default_rng(seed)
    first = rng.integers(0, 255, (views, cfg.height, cfg.width, 3), dtype=np.uint8)
    prompts = rng.integers(0, 255, (views, cfg.num_frames, cfg.height, cfg.width, 3),
                           dtype=np.uint8)
    return first, prompts


def test_same_predictions_as_in_process(served):
    import torch

    local, model_id = load_world_model("tiny", seed=0)
    assert served.model_id == model_id == "tiny:random-init-seed0"
    assert served.config.to_dict() == local.config.to_dict()
    first, prompts = inputs(local.config)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the child runs one thread: the same float reductions
    try:
        want = local.predict(first, prompts, steps=2, seed=5)
    finally:
        torch.set_num_threads(threads)
    got = served.predict(first, prompts, steps=2, seed=5)
    assert got.dtype == np.uint8 and got.flags.writeable
    np.testing.assert_array_equal(got, want)
    assert not np.array_equal(served.predict(first, prompts, steps=2, seed=6)[:, 1:],
                              got[:, 1:])


def test_bad_inputs_are_one_error_and_the_child_keeps_serving(served):
    first, prompts = inputs(served.config)
    with pytest.raises(ModelError, match="prompts"):
        served.predict(first, prompts[:1])  # one prompt video for two views
    with pytest.raises(ModelError, match=r"unknown arguments \['guidance'\]"):
        served.predict(first, prompts, guidance=2.0)
    pid, restarts = served.pid, served.restarts  # tests run in random order (pytest-randomly)
    assert served.predict(first, prompts, steps=1).shape == prompts.shape
    assert served.pid == pid and served.restarts == restarts


def test_a_dead_child_is_reported_and_replaced(served):
    first, prompts = inputs(served.config)
    restarts = served.restarts
    os.kill(served.pid, signal.SIGKILL)
    with pytest.raises(ModelError, match="model process"):
        served.predict(first, prompts, steps=1)
    out = served.predict(first, prompts, steps=1)  # a new child
    assert out.shape == prompts.shape and served.restarts == restarts + 1


def test_a_model_that_cannot_load_is_one_line(tmp_path):
    with pytest.raises(ModelError, match="not a world model checkpoint"):
        ModelProcess(str(tmp_path), start_timeout_s=120)
    with pytest.raises(ModelError, match="unknown world model preset 'nope'"):
        ModelProcess("nope", start_timeout_s=120)


def test_progress_and_cancel_between_steps(served):
    from vap_ros.errors import RolloutCancelled

    first, prompts = inputs(served.config)
    steps: list[int] = []
    out = served.predict(first, prompts, steps=3, callback=steps.append)
    assert steps == [0, 1, 2] and out.shape == prompts.shape

    def cancel_after_first(i):
        steps.append(i)
        if i >= 0:
            raise RolloutCancelled("stop")

    steps.clear()
    with pytest.raises(RolloutCancelled, match="stop"):
        served.predict(first, prompts, steps=200, callback=cancel_after_first)
    assert len(steps) == 1  # the child stopped at its next step, not after 200
    assert served.predict(first, prompts, steps=1).shape == prompts.shape  # still serving


def test_predict_long_in_the_child(served):
    """``predict_long`` runs in the child: the same video as in this process (anchors and
    chunk passed through), progress counted across chunks, cancel between steps, bad inputs one
    error."""
    import torch

    from vap_ros.errors import RolloutCancelled

    local, _ = load_world_model("tiny", seed=0)
    cfg = local.config
    rng = np.random.default_rng(1)
    first = rng.integers(0, 255, (2, cfg.height, cfg.width, 3), dtype=np.uint8)
    prompts, anchors = rng.integers(0, 255, (2, 2, 11, cfg.height, cfg.width, 3),
                                    dtype=np.uint8)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the child runs one thread: the same float reductions
    try:
        want = local.predict_long(first, prompts, chunk=3, steps=2, seed=5, anchors=anchors)
    finally:
        torch.set_num_threads(threads)
    steps: list[int] = []
    got = served.predict_long(first, prompts, chunk=3, steps=2, seed=5, anchors=anchors,
                              callback=steps.append)
    assert got.shape == (2, 11, cfg.height, cfg.width, 3)
    np.testing.assert_array_equal(got, want)
    assert steps == list(range(8))  # chunks start at frames 0, 3, 6, 9: 4 x 2 steps

    def cancel_in_the_second_chunk(i):
        steps.append(i)
        if i == 41:
            raise RolloutCancelled("stop")

    steps.clear()
    with pytest.raises(RolloutCancelled, match="stop"):
        served.predict_long(first, prompts, chunk=3, steps=40,
                            callback=cancel_in_the_second_chunk)
    assert steps == list(range(42))
    with pytest.raises(ModelError, match="anchors have 3 frames; the rollout has 11"):
        served.predict_long(first, prompts, anchors=anchors[:, :3])
    with pytest.raises(ModelError, match=r"predict got unknown arguments \['chunk'\]"):
        served.predict(first, prompts[:, :cfg.num_frames], chunk=2)
    assert served.predict_long(first, prompts[:, :1], steps=1).shape == (2, 1, 32, 32, 3)
