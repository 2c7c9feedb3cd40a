"""A world model served from a process of its own.

Why a process: in a node, the model shares the interpreter with the executor's callbacks. The
model's thread runs thousands of short torch ops, each of which gives the GIL back and must win
it again from the executor threads (a GIL convoy), and torch's OpenMP workers spin while they
wait. Measured on 2 cores (docs/ros.md): the shipped model took 40-60 s per 3-view rollout inside
`vap-ros demo` against 1.6 s in `vap-ros bench model`. In its own process the model has its own
GIL, its OpenMP threads sleep instead of spinning (``OMP_WAIT_POLICY=PASSIVE``), and the node's
callbacks no longer slow it down.

The child is ``python -m vap_ros.serve.model_process`` speaking over a socket pair. Messages are
a JSON header plus raw array bytes (nothing is pickled). ``ModelProcess`` has the ``Predictor``
interface (``config``, ``predict``, ``predict_long``), so the lookahead core cannot tell it
from an in-process model.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from vap_ros.errors import ModelError, RolloutCancelled

__all__ = ["ModelProcess", "main"]

_SCALARS = ("steps", "seed", "guidance_scale", "eta")
_OPS = {"predict": _SCALARS, "predict_long": _SCALARS + ("chunk",)}  # op: its scalar arguments


def _send(conn: Connection, header: dict[str, Any], arrays: tuple[np.ndarray, ...] = ()) -> None:
    arrays = tuple(np.ascontiguousarray(a) for a in arrays)
    header = dict(header, arrays=[[list(a.shape), a.dtype.str] for a in arrays])
    conn.send_bytes(json.dumps(header).encode())
    for a in arrays:
        conn.send_bytes(memoryview(a).cast("B"))  # type: ignore[arg-type]


def _recv(conn: Connection) -> tuple[dict[str, Any], list[np.ndarray]]:
    header = json.loads(conn.recv_bytes().decode())
    arrays = []
    for shape, dtype in header.pop("arrays", []):
        a = np.empty(shape, np.dtype(dtype))  # received in place: writable, one copy
        if a.nbytes:
            conn.recv_bytes_into(memoryview(a).cast("B"))  # type: ignore[arg-type]
        else:
            conn.recv_bytes()
        arrays.append(a)
    return header, arrays


class ModelProcess:
    """A world model in a child process, with the ``Predictor`` interface.

    Args:
        model: checkpoint directory or preset name (as ``load_world_model``).
        device, seed, base, dtype: as ``load_world_model``.
        threads: torch CPU threads in the child (0: every core).
        start_timeout_s: how long the child may take to import and load the model.
    Raises:
        ModelError: the child could not start or load the model (its error, in one line).
    """

    def __init__(self, model: str, *, device: str = "cpu", seed: int = 0, base: str = "",
                 dtype: str = "float32", threads: int = 0,
                 start_timeout_s: float = 300.0) -> None:
        self.spec = {"model": str(model), "device": device, "seed": int(seed), "base": base,
                     "dtype": dtype, "threads": int(threads)}
        self.start_timeout_s = float(start_timeout_s)
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self.config: Any = None
        self.model_id = ""
        self.restarts = 0
        self._closed = False
        self._start()

    # ------------------------------------------------------------------ lifecycle
    def _start(self) -> None:
        from vap_ros.model.config import WorldModelConfig

        parent, child = socket.socketpair()
        env = os.environ.copy()
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "vap_ros.serve.model_process", str(child.fileno()),
                 json.dumps(self.spec)], pass_fds=[child.fileno()], env=env)
        finally:
            child.close()
        self._conn = Connection(parent.detach())
        header, _ = self._reply(self.start_timeout_s, "loading the model")
        self.config = WorldModelConfig.from_dict(header["config"])
        self.model_id = header["model_id"]

    def _reply(self, timeout_s: float | None, what: str) -> tuple[dict, list[np.ndarray]]:
        """Wait for the child's answer, noticing if it dies."""
        assert self._conn is not None and self._proc is not None
        t_end = None if timeout_s is None else time.monotonic() + timeout_s
        while not self._conn.poll(0.2):
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._discard()
                raise ModelError(f"the model process exited with code {code} while {what}")
            if t_end is not None and time.monotonic() > t_end:
                self._discard()
                raise ModelError(f"the model process took more than {timeout_s:g} s {what}")
        try:
            header, arrays = _recv(self._conn)
        except (EOFError, OSError) as err:
            self._discard()
            raise ModelError(f"the model process closed its connection while {what}") from err
        if "error" in header:
            if header.get("fatal"):
                self._discard()
            raise ModelError(header["error"])
        return header, arrays

    def _discard(self) -> None:
        """Forget a dead (or hopeless) child; the next ``predict`` starts a new one."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            self._proc = None

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def close(self) -> None:
        """Stop the child now, also in the middle of a ``predict`` (which then fails at once
        with ModelError instead of holding up a shut-down); later calls are refused. The child
        also exits by itself when this process goes away (its socket closes)."""
        self._closed = True
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()  # the child keeps no state worth a graceful stop
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
        with self._lock:
            self._discard()

    def __enter__(self) -> ModelProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ predictor
    def predict(self, first_frames: np.ndarray, prompts: np.ndarray | None = None,
                callback=None, **kw: Any) -> np.ndarray:
        """``WorldModel.predict`` in the child. Keyword arguments: steps, seed, guidance_scale,
        eta (numbers); ``callback(step_index)`` is called after each denoising step (the child
        reports them) and may raise ``RolloutCancelled`` to stop the child between steps.

        Raises:
            ModelError: bad inputs, or the child died (the next call starts a new one).
            RolloutCancelled: the callback cancelled.
        """
        return self._call("predict", {"first_frames": first_frames, "prompts": prompts},
                          callback, kw)

    def predict_long(self, first_frames: np.ndarray, prompts: np.ndarray | None = None, *,
                     callback=None, actions: np.ndarray | None = None,
                     anchors: np.ndarray | None = None, **kw: Any) -> np.ndarray:
        """``WorldModel.predict_long`` (a rollout of any length, in chunks) in the child.
        Keyword arguments: chunk, steps, seed, guidance_scale, eta (numbers), ``actions`` and
        ``anchors`` (arrays); ``callback(step_index)`` as for ``predict``, the step counted
        across chunks.

        Raises:
            ModelError: bad inputs, or the child died (the next call starts a new one).
            RolloutCancelled: the callback cancelled.
        """
        return self._call("predict_long", {"first_frames": first_frames, "prompts": prompts,
                                           "actions": actions, "anchors": anchors},
                          callback, kw)

    def _call(self, op: str, arrays: dict[str, Any], callback, kw: dict[str, Any]) -> np.ndarray:
        """Run ``op`` in the child: named arrays (None: not sent), scalar keyword arguments,
        progress reports to ``callback`` and cancel between steps."""
        unknown = sorted(set(kw) - set(_OPS[op]))
        if unknown:
            raise ModelError(f"ModelProcess.{op} got unknown arguments {unknown}; "
                             f"supported: {list(_OPS[op])}")
        scalars = {k: v for k, v in kw.items() if v is not None}
        given = {k: np.asarray(v) for k, v in arrays.items() if v is not None}
        with self._lock:
            if self._closed:
                raise ModelError("the model process was closed")
            if self._proc is None:
                self.restarts += 1
                self._start()
            assert self._conn is not None
            try:
                _send(self._conn, {"op": op, "inputs": list(given),
                                   "progress": callback is not None, **scalars},
                      tuple(given.values()))
            except OSError as err:
                self._discard()
                raise ModelError(f"the model process is gone ({err}); it restarts on the next "
                                 "request") from err
            cancelled = None
            while True:
                header, out = self._reply(None, "predicting")
                if "progress" not in header:
                    break
                if callback is not None and cancelled is None:
                    try:
                        callback(int(header["progress"]))
                    except RolloutCancelled as err:  # the child stops at its next step
                        cancelled = err
                        _send(self._conn, {"op": "cancel"})
            if cancelled is not None or header.get("cancelled"):
                raise cancelled or RolloutCancelled("rollout cancelled")
        return out[0]


# ---------------------------------------------------------------------- the child
class _Cancelled(Exception):
    """The parent cancelled the running predict."""


def _progress(conn: Connection):
    """A step callback: report the step; stop if the parent sent ``cancel`` meanwhile."""
    def callback(step: int) -> None:
        _send(conn, {"progress": step})
        if conn.poll(0):
            header, _ = _recv(conn)
            if header.get("op") == "cancel":
                raise _Cancelled()

    return callback


def _serve(conn: Connection, spec: dict) -> None:
    import torch

    from vap_ros.errors import VapError
    from vap_ros.serve.predictor import load_world_model

    if spec.get("threads", 0) > 0:
        torch.set_num_threads(int(spec["threads"]))
    try:
        model, model_id = load_world_model(spec["model"], device=spec["device"],
                                           seed=spec["seed"], base=spec["base"],
                                           dtype=spec["dtype"])
    except VapError as err:
        _send(conn, {"error": str(err), "fatal": True})
        return
    except Exception as err:  # noqa: BLE001 - reported to the parent as one line
        _send(conn, {"error": f"cannot load the model: {type(err).__name__}: {err}",
                     "fatal": True})
        return
    _send(conn, {"config": model.config.to_dict(), "model_id": model_id})
    while True:
        try:
            header, arrays = _recv(conn)
        except (EOFError, OSError):  # the parent went away
            return
        if header.get("op") == "cancel":  # came after that predict had finished: nothing to do
            continue
        op = header.get("op")
        if op not in _OPS:
            return
        kw = {k: header[k] for k in _OPS[op] if k in header}
        kw.update(zip(header.get("inputs", ()), arrays))
        if header.get("progress"):
            kw["callback"] = _progress(conn)
        try:
            out = getattr(model, op)(**kw)
        except _Cancelled:
            _send(conn, {"cancelled": True})
            continue
        except VapError as err:
            _send(conn, {"error": str(err)})
            continue
        except Exception as err:  # noqa: BLE001 - reported to the parent, keep serving
            _send(conn, {"error": f"model failed: {type(err).__name__}: {err}"})
            continue
        _send(conn, {"ok": True}, (out,))


def main(argv: list[str] | None = None) -> None:
    """Child entry: ``python -m vap_ros.serve.model_process FD SPEC_JSON``."""
    argv = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    conn = Connection(int(argv[0]))
    try:
        _serve(conn, json.loads(argv[1]))
    finally:
        conn.close()


if __name__ == "__main__":
    main()
