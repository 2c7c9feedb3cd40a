"""The model gate, free of ROS: one holder at a time; a yielding holder (plan ranking) lets
waiting rollouts go first between its model calls, stops mid-call for a waiting plan and runs
the call again with the same result; a cancel is not retried. Every wait ends on a condition."""

import threading

import numpy as np
import pytest

from vap_ros.errors import RolloutCancelled
from vap_ros.ros.probe import wait_for
from vap_ros.serve import GatedPredictor, ModelGate


class StepModel:
    """A predictor whose ``predict_long`` takes ``steps`` denoising steps; step ``pause_at``
    of its first run waits for ``release`` (so a test can line others up meanwhile)."""

    config = object()

    def __init__(self, steps=4, pause_at=None):
        self.steps, self.pause_at = steps, pause_at
        self.release, self.paused = threading.Event(), threading.Event()
        self.runs = 0

    def predict_long(self, first, prompts, callback=None, seed=0):
        self.runs += 1
        for i in range(self.steps):
            if self.runs == 1 and i == self.pause_at:
                self.paused.set()
                assert self.release.wait(60)
            if callback is not None:
                callback(i)
        return first + seed


def in_thread(fn):
    out: dict = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - handed to the test
            out["error"] = err

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def test_yielding_holder_lets_waiting_rollouts_go_first():
    gate, order = ModelGate(), []
    release = threading.Event()

    def holder():
        with gate.hold("horizon"):
            release.wait(60)

    def enter(source, yielding):
        with gate.hold(source, yielding=yielding):
            order.append(source)

    t0, _ = in_thread(holder)
    wait_for(lambda: gate.busy, what="the first holder")
    ty, _ = in_thread(lambda: enter("rank", True))
    tp, _ = in_thread(lambda: enter("plan", False))
    wait_for(lambda: gate.waiting("plan") == 1, what="the plan waiting")
    assert gate.waiting() == 1 and gate.waiting("rank") == 0  # yielding holders are not counted
    release.set()
    for t in (t0, ty, tp):
        t.join(60)
    assert order == ["plan", "rank"] and not gate.busy and gate.waiting() == 0


def test_preempted_call_runs_again_after_the_plan():
    gate, model = ModelGate(), StepModel(steps=4, pause_at=2)
    steps, calls, order = [], [], []
    gated = GatedPredictor(model, gate, source="rank",
                           preempt=lambda: gate.waiting("plan") > 0, on_call=calls.append,
                           on_step=lambda i, s: steps.append((i, s)))
    first = np.zeros((1, 2), np.uint8)
    tr, out = in_thread(lambda: gated.predict_long(first, None, seed=3))
    assert model.paused.wait(60)

    def plan():
        with gate.hold("plan"):
            order.append("plan")

    tp, _ = in_thread(plan)
    wait_for(lambda: gate.waiting("plan") == 1, what="the plan waiting at the gate")
    model.release.set()
    tr.join(60)
    tp.join(60)
    assert "error" not in out, out
    np.testing.assert_array_equal(out["value"], first + 3)
    assert order == ["plan"] and model.runs == 2 and gated.preempted == 1
    assert calls == [0] and gated.calls == 1 and len(gated.seconds) == 1
    # stopped after step 2 of the first run; the second run counts its steps from 0 again
    assert steps == [(0, 0), (0, 1), (0, 2), (0, 0), (0, 1), (0, 2), (0, 3)]
    assert not gate.busy


def test_cancel_is_not_retried():
    gate, model = ModelGate(), StepModel(steps=4)

    def on_step(_i, s):
        if s == 1:
            raise RolloutCancelled("cancelled by the test")

    gated = GatedPredictor(model, gate, on_step=on_step)
    with pytest.raises(RolloutCancelled, match="cancelled by the test"):
        gated.predict_long(np.zeros(2, np.uint8), None)
    assert model.runs == 1 and gated.preempted == 0 and not gate.busy
