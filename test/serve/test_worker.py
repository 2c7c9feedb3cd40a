"""The model's request worker, free of ROS: newest request wins, a request waits for its inputs
(woken by new inputs, not by polling), is refused after the start-up wait with what is missing,
and a service-style caller can wait for inputs too. Every wait ends on a condition."""

import threading

from vap_ros.ros.probe import wait_for
from vap_ros.serve import RequestWorker


class Inputs:
    def __init__(self, missing=()):
        self.missing = list(missing)
        self.lock = threading.Lock()

    def __call__(self, _req=None):
        with self.lock:
            return list(self.missing)


def make(missing=(), wait_s=60.0):
    ran, refused, gate = [], [], threading.Event()
    inputs = Inputs(missing)

    def run(req):
        gate.wait()  # holds the worker busy until the test opens the gate
        ran.append(req)

    w = RequestWorker(run, inputs, lambda req, lacking: refused.append((req, lacking)),
                      lambda: wait_s)
    return w, inputs, ran, refused, gate


def test_newest_request_wins_while_busy():
    w, _, ran, _, gate = make()
    try:
        w.submit("a")
        wait_for(lambda: not w.idle and w._running, what="a running")
        w.submit("b")
        w.submit("c")  # replaces b, which never started
        assert w.dropped == 1
        gate.set()
        wait_for(lambda: ran == ["a", "c"] and w.idle, what="a then c")
    finally:
        gate.set()
        w.close()


def test_held_until_inputs_arrive_then_runs():
    w, inputs, ran, refused, gate = make(missing=["camera 'front': no image yet"])
    gate.set()
    try:
        w.submit("plan")
        wait_for(lambda: w.held == 1, what="the request held")
        assert not ran and not refused and not w.idle
        with inputs.lock:
            inputs.missing = []
        w.inputs_changed()  # the input callbacks' wake-up
        wait_for(lambda: ran == ["plan"], what="the held request to run")
        assert w.refused == 0 and w.idle
    finally:
        w.close()


def test_refused_after_the_wait_with_what_is_missing():
    w, _, ran, refused, gate = make(missing=["no CameraInfo on /back/camera_info"], wait_s=0.2)
    gate.set()
    try:
        w.submit("plan")
        wait_for(lambda: refused, what="the refusal")
        assert refused == [("plan", ["no CameraInfo on /back/camera_info"])]
        assert not ran and w.refused == 1 and w.idle
    finally:
        w.close()


def test_a_newer_request_replaces_a_held_one():
    w, inputs, ran, refused, gate = make(missing=["no image yet"])
    gate.set()
    try:
        w.submit("old")
        wait_for(lambda: w.held == 1, what="old held")
        w.submit("new")
        with inputs.lock:
            inputs.missing = []
        w.inputs_changed()
        wait_for(lambda: ran, what="a request to run")
        assert ran == ["new"] and not refused
    finally:
        w.close()


def test_wait_for_inputs_returns_what_is_still_missing():
    w, inputs, *_ = make(missing=["x"])
    try:
        assert w.wait_for_inputs(inputs, 0.05) == ["x"]
        threading.Timer(0.05, lambda: (setattr(inputs, "missing", []), w.inputs_changed())).start()
        assert w.wait_for_inputs(inputs, 60.0) == []
    finally:
        w.close()


def test_close_stops_the_thread_and_drops_the_pending_request():
    w, _, ran, _, gate = make()
    w.submit("a")
    wait_for(lambda: w._running, what="a running")
    w.submit("b")
    w.stop()
    gate.set()
    w.close()
    assert not w.alive and ran == ["a"]
