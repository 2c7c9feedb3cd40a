"""The model's worker thread: a one-slot mailbox that also holds a request until its inputs are
there.

- ``submit`` puts a request in the slot; a newer one replaces an unstarted one (counted in
  ``dropped``), so a slow model never builds a backlog and memory stays flat.
- A request whose inputs are missing (``missing(req)`` lists them: no calibration yet, no image
  yet, ...) is held, newest only, for up to ``startup_wait_s`` after it arrived. It runs as soon
  as ``inputs_changed`` reports new inputs and nothing is missing any more; after the wait it is
  refused through ``on_refused(req, missing)`` with the list of what is still missing.
- Every wait is on a condition (a newer request, new inputs, stop, the deadline), never a sleep.

Free of ROS: the lookahead node feeds it from its callbacks.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

__all__ = ["RequestWorker"]


class RequestWorker:
    """Args:
        run: ``run(request)``, called on the worker thread when the request's inputs are there.
        missing: ``missing(request) -> list[str]``: what the request still lacks ([] = ready).
        on_refused: ``on_refused(request, missing)`` after ``startup_wait_s`` without inputs.
        startup_wait_s: seconds a request may wait for missing inputs; a callable is read
            each time (a node parameter that can change at run time).
        name: the thread's name.
    """

    def __init__(self, run: Callable[[Any], None], missing: Callable[[Any], list[str]],
                 on_refused: Callable[[Any, list[str]], None],
                 startup_wait_s: float | Callable[[], float] = 5.0,
                 name: str = "model-worker") -> None:
        self._run = run
        self._missing = missing
        self._on_refused = on_refused
        self._wait_s = startup_wait_s if callable(startup_wait_s) else (lambda: startup_wait_s)
        self._cond = threading.Condition()
        self._pending: tuple[Any, float] | None = None
        self._inputs_version = 0
        self._stop = False
        self.dropped = 0
        self.held = 0  # requests that had to wait for inputs
        self.refused = 0
        self._last_held: tuple[Any, float] | None = None
        self._running = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ producers
    def submit(self, request: Any, received_s: float | None = None) -> None:
        """Queue ``request`` (received at ``received_s``, time.monotonic(); default now)."""
        with self._cond:
            if self._pending is not None:
                self.dropped += 1
            self._pending = (request, time.monotonic() if received_s is None else received_s)
            self._cond.notify_all()

    def clear(self) -> None:
        """Forget the unstarted request (a time jump made it meaningless)."""
        with self._cond:
            self._pending = None
            self._cond.notify_all()

    def inputs_changed(self) -> None:
        """New inputs arrived (cheap; called from input callbacks)."""
        with self._cond:
            self._inputs_version += 1
            self._cond.notify_all()

    def wait_for_inputs(self, missing: Callable[[], list[str]], timeout_s: float) -> list[str]:
        """Block the caller (a synchronous service/action handler) until ``missing()`` is empty
        or ``timeout_s`` passed; returns what is still missing."""
        t_end = time.monotonic() + timeout_s
        while True:
            with self._cond:
                version = self._inputs_version
            lacking = missing()
            remaining = t_end - time.monotonic()
            if not lacking or remaining <= 0 or self._stop:
                return lacking
            with self._cond:
                self._cond.wait_for(lambda: self._inputs_version != version or self._stop,  # noqa: B023
                                    remaining)

    # ------------------------------------------------------------------ the thread
    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._stop)
                if self._stop:
                    return
                entry = self._pending
                version = self._inputs_version
            assert entry is not None
            request, received_s = entry
            lacking = self._missing(request)
            if lacking:
                deadline = received_s + float(self._wait_s())
                if time.monotonic() >= deadline:
                    with self._cond:
                        if self._pending is not entry:
                            continue  # a newer request replaced it: try that one
                        self._pending = None
                    self.refused += 1
                    self._on_refused(request, lacking)
                    continue
                if entry is not self._last_held:
                    self.held += 1
                    self._last_held = entry
                with self._cond:  # until new inputs, a newer request, stop or the deadline
                    self._cond.wait_for(
                        lambda: self._pending is not entry or self._stop  # noqa: B023
                        or self._inputs_version != version,  # noqa: B023
                        max(0.0, deadline - time.monotonic()))
                continue
            with self._cond:
                if self._pending is not entry:
                    continue
                self._pending = None
                self._running = True
            try:
                self._run(request)
            finally:
                with self._cond:
                    self._running = False
                    self._cond.notify_all()

    def stop(self) -> None:
        """Ask the thread to stop after the request it is running (if any)."""
        with self._cond:
            self._stop = True
            self._pending = None
            self._cond.notify_all()

    @property
    def stopping(self) -> bool:
        return self._stop

    def close(self, timeout_s: float = 10.0) -> None:
        """``stop`` and wait for the thread to end."""
        self.stop()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)

    @property
    def pending(self) -> Any | None:
        """The request waiting to run next (queued or held for inputs), or None."""
        with self._cond:
            return None if self._pending is None else self._pending[0]

    @property
    def idle(self) -> bool:
        """Nothing queued, held or running."""
        with self._cond:
            return self._pending is None and not self._running

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()
