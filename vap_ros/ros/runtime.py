"""The executor lifecycle, written once: an rclpy context, a multi-threaded executor spun in the
foreground or by a background thread, clean start-up and shut-down. Every entry point uses it:
the node executables (``run_node``), ``vap-ros run`` graphs, the demo, the benchmarks, the soak
and the tests.

``configure_process`` holds the process-wide settings a node process needs (the one place that
sets them). The model itself runs in a process of its own by default
(``vap_ros.serve.model_process``), so what is left in this process is the nodes' own work:
callbacks, prompt rendering and message building.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from typing import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

__all__ = ["NodeRunner", "configure_process", "run_node", "wait_until"]

_log = logging.getLogger(__name__)
SWITCH_INTERVAL_S = 0.0005


def wait_until(cond: Callable[[], object], timeout_s: float, what: str,
               period_s: float = 0.01):
    """Poll ``cond()`` until it returns something truthy (returned) or ``timeout_s`` passes
    (``WaitTimeout`` naming ``what``). The timeout only detects a hang: the wait ends as soon
    as the condition holds, however loaded the machine."""
    from vap_ros.errors import WaitTimeout

    t_end = time.monotonic() + timeout_s
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > t_end:
            raise WaitTimeout(f"timed out after {timeout_s:g} s waiting for {what}", what=what,
                              timeout_s=timeout_s)
        time.sleep(period_s)


def configure_process() -> None:
    """Process-wide settings for a process that spins nodes.

    The GIL switch interval: a worker thread's many short OpenCV/numpy calls release the GIL,
    and with the default 5 ms interval each can wait behind the executor threads' Python
    callbacks before it runs again (measured: 2x the node's overhead per rollout).
    """
    if sys.getswitchinterval() > SWITCH_INTERVAL_S:
        sys.setswitchinterval(SWITCH_INTERVAL_S)


class NodeRunner:
    """An rclpy context + multi-threaded executor.

    Args:
        args: ROS command-line arguments for ``rclpy.init`` (``--ros-args ...``).
        domain_id: DDS domain of this context (default: ``ROS_DOMAIN_ID``).
        num_threads: executor threads.

    Use ``start()`` to spin in a background thread (``close()`` stops it) or ``spin()`` to spin
    in the caller's thread. A callback that raises is logged and spinning goes on: one bad
    callback must not stop every node of the process.
    """

    def __init__(self, args=None, *, domain_id: int | None = None, num_threads: int = 4) -> None:
        configure_process()
        self.context = rclpy.Context()
        rclpy.init(args=args, context=self.context, domain_id=domain_id)
        self.executor = MultiThreadedExecutor(num_threads=num_threads, context=self.context)
        self.nodes: list = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.callback_errors = 0

    @property
    def domain_id(self) -> int:
        """The DDS domain of this context (give it to processes that must talk to it)."""
        return int(self.context.get_domain_id())

    # ------------------------------------------------------------------ nodes
    def add(self, node):
        """Spin ``node`` (returns it)."""
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def remove(self, node) -> None:
        """Stop spinning ``node`` and destroy it."""
        self.executor.remove_node(node)
        self._destroy(node)
        self.nodes.remove(node)

    @staticmethod
    def _destroy(node) -> None:
        close = getattr(node, "close", None)
        if close is not None:
            close()
        NodeRunner._destroy_node_and_waitables(node)

    @staticmethod
    def _destroy_node_and_waitables(node) -> None:
        """``destroy_node``, after destroying the node's action servers and clients.

        rclpy's ``destroy_node`` leaves waitables alone, and an action server or client keeps
        the rcl node alive until the garbage collector frees it. Freeing it then unregisters
        the node's /rosout publisher *by name* (rcl keeps one per logger name, process-wide):
        a later node of the same name in this process silently stops logging to /rosout."""
        for waitable in list(node.waitables):
            destroy = getattr(waitable, "destroy", None)
            if destroy is not None:
                destroy()
        node.destroy_node()

    # ------------------------------------------------------------------ spinning
    def ok(self) -> bool:
        return self.context.ok() and not self._stop.is_set()

    def spin_once(self, timeout_s: float = 0.1) -> None:
        try:
            self.executor.spin_once(timeout_sec=timeout_s)
        except (KeyboardInterrupt, ExternalShutdownException):
            raise
        except Exception as err:  # noqa: BLE001 - a callback raised: log, keep the others
            if not self.ok():
                return
            self.callback_errors += 1
            _log.error("a callback raised %s: %s", type(err).__name__, err)

    def spin(self, until: Callable[[], bool] | None = None, duration_s: float = 0.0) -> None:
        """Spin in this thread until SIGINT (Ctrl-C) or SIGTERM, shutdown, ``until()`` or
        ``duration_s``.

        In the main thread, SIGINT and SIGTERM only ask the loop to stop (it does within one
        0.1 s wait): rclpy installs no handler for a context of its own, and a
        KeyboardInterrupt raised at a random point inside rclpy's executor can leave it
        holding a lock, so that shutting down hangs (seen under load)."""
        t_end = time.monotonic() + duration_s if duration_s > 0 else None
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda *_: self._stop.set())
        try:
            while self.ok():
                self.spin_once(0.1)
                if until is not None and until():
                    return
                if t_end is not None and time.monotonic() > t_end:
                    return
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def start(self) -> NodeRunner:
        """Spin in a background thread."""
        def loop() -> None:
            try:
                while self.ok():
                    self.spin_once(0.1)
            except (KeyboardInterrupt, ExternalShutdownException):
                pass

        self._thread = threading.Thread(target=loop, name="ros-spin", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop spinning; stop every node's own threads and processes (``close()``, newest
        first) before the executor shuts down, so no callback is left waiting on a worker or a
        model; then destroy the nodes and shut the context down. Calling it again does
        nothing."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None and threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)
        for node in reversed(self.nodes):
            close = getattr(node, "close", None)
            if close is not None:
                close()
        self.executor.shutdown(timeout_sec=5)
        self._collect_late_errors()
        for node in reversed(self.nodes):
            self._destroy_node_and_waitables(node)
        self.nodes.clear()
        if self.context.ok():
            rclpy.shutdown(context=self.context)

    def _collect_late_errors(self) -> None:
        """Fetch the exceptions of callbacks that finished after the last spin. rclpy keeps
        them in the executor until the next spin; left there, each prints "The following
        exception was never retrieved" when it is garbage-collected, at a random later moment
        and into whatever runs then."""
        ex = self.executor
        with ex._tasks_lock:  # rclpy has no public API for these
            tasks = [t for t, _, _ in ex._tasks] + list(getattr(ex, "_futures", ()))
        for task in tasks:
            err = task.exception() if task.done() else None
            if err is not None:
                self.callback_errors += 1
                _log.warning("a callback raised while the runner closed: %s: %s",
                             type(err).__name__, err)

    def __enter__(self) -> NodeRunner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run_node(factory: Callable[..., object], args=None, num_threads: int = 4) -> None:
    """``main()`` body of a node executable: build the node, spin until Ctrl-C or shutdown,
    clean exit. A node that cannot start (a bad parameter, a missing file) prints one line and
    exits with status 2."""
    from vap_ros.errors import VapError

    runner = NodeRunner(args, num_threads=num_threads)
    try:
        try:
            node = factory(context=runner.context)
        except VapError as err:
            print(f"{getattr(factory, '__name__', 'node')}: cannot start: {err}",
                  file=sys.stderr)
            raise SystemExit(2) from err
        runner.add(node)
        runner.spin()
    finally:
        runner.close()
