"""NodeRunner: the executor lifecycle (vap_ros.ros.runtime)."""

from __future__ import annotations

import gc
import threading

from vap_ros.ros.probe import wait_for


def test_a_callback_that_raised_just_before_close_is_not_left_for_the_garbage_collector(
        dds_domain_factory, capfd):
    """rclpy keeps a callback's exception in the executor until the next spin, and prints "The
    following exception was never retrieved" when that task is garbage-collected: at a random
    later moment, into whatever runs then (another test's captured stderr). close() must
    collect such exceptions itself."""
    from rclpy.node import Node

    from vap_ros.ros.runtime import NodeRunner

    runner = NodeRunner(domain_id=dds_domain_factory())
    go, raised = threading.Event(), threading.Event()
    node = Node("raiser", context=runner.context)

    def tick():
        go.wait()  # raise only after spin_once has returned
        try:
            raise RuntimeError("cannot use Destroyable because destruction was requested")
        finally:
            raised.set()

    node.create_timer(0.001, tick)
    runner.add(node)
    runner.spin_once(1.0)  # hands the callback to a worker thread and returns
    go.set()
    wait_for(raised.is_set, what="the callback raising in its worker")
    runner.close()  # no spin after it: its exception is still in the executor
    del runner, node
    gc.collect()
    assert "never retrieved" not in capfd.readouterr().err
