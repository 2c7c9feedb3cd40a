"""Bag player node: a small stand-in for ``ros2 bag play --clock [--loop]`` where rosbag2 is not
installed (here). Reads a rosbag2 (MCAP/sqlite3) with the ``rosbags`` library (vap_ros.data.bag)
and publishes the recorded bytes unchanged (``publish_raw``), paced in real time (× ``rate``),
with ``/clock`` from the bag's log time so nodes running with ``use_sim_time`` follow it.

``/tf_static`` is published transient local (late joiners get it); every other topic reliable.
A looping bag sends time backwards at each restart: consumers see the jump (the lookahead and
prompt nodes clear their caches and log it).
"""

from __future__ import annotations

import importlib
import threading
import time
from dataclasses import dataclass

from rclpy.node import Node
from rosgraph_msgs.msg import Clock

from vap_ros.config import require
from vap_ros.errors import BagError
from vap_ros.ros.convert import stamp_msg
from vap_ros.ros.node_utils import STATIC_QOS, ErrorLog, reliable_qos
from vap_ros.ros.params import NodeParams, declare, param
from vap_ros.ros.runtime import run_node

__all__ = ["BagPlayerNode", "BagPlayerParams", "main"]


@dataclass(frozen=True)
class BagPlayerParams(NodeParams):
    bag: str = param("", "rosbag2 folder or .mcap/.db3 file")
    loop: bool = param(True, "start again at the end (time jumps back: consumers clear their "
                             "caches)")
    rate: float = param(1.0, "playback speed factor")
    clock: bool = param(True, "publish /clock from the bag's log time (for use_sim_time)")
    clock_period_s: float = param(0.01, "at most one /clock message per this many seconds of "
                                        "bag time")
    topics: tuple[str, ...] = param(("",), "topics to play ([''] = every topic whose message "
                                           "type is installed)")

    def check(self) -> None:
        require(self.rate > 0, "rate", self.rate, "a number > 0")
        require(self.clock_period_s > 0, "clock_period_s", self.clock_period_s, "a number > 0")


def message_class(msgtype: str):
    """``sensor_msgs/msg/Image`` → the rclpy message class; None if not installed."""
    pkg, _, name = msgtype.replace("/msg/", "/").partition("/")
    try:
        return getattr(importlib.import_module(f"{pkg}.msg"), name)
    except (ImportError, AttributeError):
        return None


class BagPlayerNode(Node):
    def __init__(self, node_name: str = "bag_player", **node_kwargs) -> None:
        super().__init__(node_name, **node_kwargs)
        p = self.params = declare(self, BagPlayerParams)
        require(bool(p.bag), "bag", p.bag, "a rosbag2 folder or file (the parameter bag)")
        self.errors = ErrorLog(self.get_logger())
        from vap_ros.data.bag import BagReader

        self.reader = BagReader(p.bag)
        self.reader.open()
        wanted = [t for t in p.topics if t] or sorted(self.reader.topics)
        self.pubs = {}
        for topic in wanted:
            info = self.reader.topics.get(topic)
            if info is None:
                raise BagError(f"topic {topic!r} not in bag {p.bag!r} "
                               f"(has {sorted(self.reader.topics)})")
            cls = message_class(info.msgtype)
            if cls is None:
                self.get_logger().warning(f"skipping {topic}: message type {info.msgtype} is "
                                          "not installed")
                continue
            qos = STATIC_QOS if topic == "/tf_static" else reliable_qos(10)
            self.pubs[topic] = self.create_publisher(cls, topic, qos)
        self._clock_pub = self.create_publisher(Clock, "/clock", 10) if p.clock else None
        self.loops = 0
        self.published = 0
        self._running = True
        self._thread = threading.Thread(target=self._play, name="bag_player", daemon=True)
        self._thread.start()
        self.get_logger().info(f"playing {p.bag} ({len(self.pubs)} topics, rate "
                               f"{p.rate:g}, loop {p.loop})")

    def _play(self) -> None:
        rate = self.params.rate
        clock_period = int(self.params.clock_period_s * 1e9)
        try:
            while self._running:
                wall0, bag0, last_clock = time.monotonic(), None, None
                for topic, t_ns, raw in self.reader.messages(list(self.pubs)):
                    if not self._running:
                        return
                    bag0 = t_ns if bag0 is None else bag0
                    delay = wall0 + (t_ns - bag0) * 1e-9 / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    if self._clock_pub is not None and (
                            last_clock is None or t_ns - last_clock >= clock_period):
                        self._clock_pub.publish(Clock(clock=stamp_msg(t_ns)))
                        last_clock = t_ns
                    self.pubs[topic].publish(bytes(raw))
                    self.published += 1
                self.loops += 1
                if not self.params.loop:
                    self.get_logger().info("bag finished")
                    return
        except BagError as err:
            self.errors.error("bag_player", str(err))

    def close(self) -> None:
        self._running = False
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self.reader.close()


def main(args=None) -> None:
    run_node(BagPlayerNode, args)


if __name__ == "__main__":
    main()
