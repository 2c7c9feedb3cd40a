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


def test_a_closed_node_with_an_action_server_does_not_silence_a_later_node_of_its_name(
        dds_domain_factory):
    """rcl keeps one /rosout publisher per logger name, process-wide. An action server left
    alive after ``destroy_node`` keeps the rcl node until the garbage collector frees it, and
    freeing it then unregisters the publisher of a *newer* node of the same name: its log lines
    stop reaching /rosout (the cause of three lookahead-node tests failing at once in CI, after
    the demo test had run a node named 'lookahead_node' in the same process)."""
    from rcl_interfaces.msg import Log
    from rclpy.action import ActionServer
    from rclpy.node import Node

    from vap_ros.ros.node_utils import reliable_qos
    from vap_ros.ros.runtime import NodeRunner
    from vap_ros_msgs.action import PredictRollout

    old_runner = NodeRunner(domain_id=dds_domain_factory()).start()
    old = old_runner.add(Node("same_name", context=old_runner.context))
    ActionServer(old, PredictRollout, "/predict", execute_callback=lambda goal: None)
    old_runner.close()

    runner = NodeRunner(domain_id=dds_domain_factory()).start()
    try:
        lines: list[str] = []
        listener = runner.add(Node("listener", context=runner.context))
        listener.create_subscription(Log, "/rosout", lambda m: lines.append(m.msg),
                                     reliable_qos(100))
        new = runner.add(Node("same_name", context=runner.context))

        def logged(text):
            new.get_logger().info(text)  # again on each poll: no wait for discovery
            return any(text in line for line in lines)

        wait_for(lambda: logged("before the collection"), what="a log line on /rosout")
        del old
        gc.collect()  # frees whatever the old node left behind
        wait_for(lambda: logged("after the collection"),
                 what="a log line on /rosout after the old node was collected")
    finally:
        runner.close()
