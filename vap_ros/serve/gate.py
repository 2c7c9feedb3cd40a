"""One world model, several users, one at a time.

The lookahead node's worker (topic plans, the horizon), its PredictRollout goals and its plan
ranking goals all run the same model (in this process or in the model process). ``ModelGate``
is the lock they share: it runs one model call at a time and knows who waits for it, so a long
background job (ranking N plans = N whole rollouts) can give way:

- between two of its model calls it enters only when no rollout waits (a *yielding* holder);
- during a call it stops between two denoising steps when a topic plan waits
  (``GatedPredictor(preempt=...)``), lets it run, and runs the call again from the start (the
  same inputs and seed give the same video, so the job's result does not change).

A plan's rollout thus waits for at most one denoising step of a ranking, as it does for a
horizon rollout. The price: a ranking restarts a plan's prediction each time a topic plan
comes in meanwhile (``GatedPredictor.preempted`` counts them), so plans that come faster than
one candidate's prediction hold the ranking back until they stop.

Free of ROS; the node passes its worker's state in through ``preempt``.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from typing import Any, Callable, Iterator

import numpy as np

from vap_ros.errors import RolloutCancelled

__all__ = ["GatedPredictor", "ModelGate", "Preempted"]


class Preempted(RolloutCancelled):
    """A yielding model call stopped between two steps for a waiting rollout (it runs again)."""


class ModelGate:
    """A lock on the model that counts who waits for it.

    ``with gate.hold(source):`` runs the model alone.
    ``hold(source, yielding=True)`` (a background job) also waits until no other holder waits,
    so waiting rollouts go first. ``waiting(source)`` counts the non-yielding holders waiting
    now (all sources for None).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy = False
        self._waiting: collections.Counter[str] = collections.Counter()

    @contextlib.contextmanager
    def hold(self, source: str = "", *, yielding: bool = False) -> Iterator[None]:
        with self._cond:
            if yielding:
                self._cond.wait_for(lambda: not self._busy and not any(self._waiting.values()))
            else:
                self._waiting[source] += 1
                try:
                    self._cond.wait_for(lambda: not self._busy)
                finally:
                    self._waiting[source] -= 1
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def waiting(self, source: str | None = None) -> int:
        with self._cond:
            return sum(self._waiting.values()) if source is None else self._waiting[source]

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._busy


class GatedPredictor:
    """A ``Predictor`` (``vap_ros.serve.lookahead``) for a background job on a shared model:
    every ``predict``/``predict_long`` call holds ``gate`` as a yielding holder (module
    docstring).

    Args:
        model: the shared ``Predictor``.
        gate: the ``ModelGate`` every user of ``model`` holds.
        preempt: ``preempt() -> bool``, asked after each denoising step: stop the call, give the
            model to the waiting rollout, then run the call again from the start.
        on_call: ``on_call(index)`` before model call ``index`` (0, 1, ...) starts; it may raise
            (e.g. ``RolloutCancelled``) to stop the job.
        on_step: ``on_step(index, step)`` after each denoising step of call ``index`` (``step``
            counted across the chunks of a ``predict_long``; from 0 again after a preemption);
            it may raise ``RolloutCancelled``.
        source: the name the job holds the gate under.
    Attributes:
        calls: model calls started; preempted: calls stopped and run again;
        seconds: wall time of each finished call's last (complete) run.
    """

    def __init__(self, model: Any, gate: ModelGate, *,
                 preempt: Callable[[], bool] | None = None,
                 on_call: Callable[[int], None] | None = None,
                 on_step: Callable[[int, int], None] | None = None,
                 source: str = "background") -> None:
        self.model, self.gate, self.source = model, gate, source
        self._preempt, self._on_call, self._on_step = preempt, on_call, on_step
        self.calls = self.preempted = 0
        self.seconds: list[float] = []

    @property
    def config(self) -> Any:
        return self.model.config

    def predict(self, first_frames: np.ndarray, prompts: np.ndarray, **kw) -> np.ndarray:
        return self._run(self.model.predict, first_frames, prompts, kw)

    def predict_long(self, first_frames: np.ndarray, prompts: np.ndarray, **kw) -> np.ndarray:
        return self._run(self.model.predict_long, first_frames, prompts, kw)

    def _run(self, fn, first_frames, prompts, kw: dict) -> np.ndarray:
        index = self.calls
        self.calls += 1
        if self._on_call is not None:
            self._on_call(index)
        user_cb = kw.pop("callback", None)

        def callback(step: int) -> None:
            if user_cb is not None:
                user_cb(step)
            if self._on_step is not None:
                self._on_step(index, step)
            if self._preempt is not None and self._preempt():
                raise Preempted(f"{self.source}: gave way to a waiting rollout")

        while True:
            with self.gate.hold(self.source, yielding=True):
                t0 = time.perf_counter()
                try:
                    out = fn(first_frames, prompts, callback=callback, **kw)
                except Preempted:
                    self.preempted += 1
                    continue  # out of the gate: the waiting rollout runs first
            self.seconds.append(time.perf_counter() - t0)
            return out
