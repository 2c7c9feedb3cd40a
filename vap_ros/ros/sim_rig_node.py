"""The simulated Franka rig as a live ROS 2 node: the MuJoCo scene of ``vap_ros.sim`` run in
real time, publishing what a real rig publishes and executing commanded plans.

Publishes
    ``/joint_states`` (sensor_msgs/JointState, arm + finger joints, ``state_hz``,
    reliable), ``/<cam>/image_raw`` (sensor_msgs/Image rgb8, ``camera_hz``, sensor-data
    QoS), ``/<cam>/camera_info`` (with every image), ``/tf_static`` (camera optical frames
    relative to ``panda_link0``; the wrist camera's relative to ``panda_hand``; transient local).
Subscribes
    ``command_topic`` (trajectory_msgs/JointTrajectory, default ``/planned_trajectory``): the
    plan to execute. Finger joints, if listed, command the gripper (width = their sum). A
    zero header stamp means "start now"; otherwise the plan starts at that time. The current
    set-point is prepended when the first point lies after the start (like a joint-trajectory
    controller). Invalid plans (unknown/missing joints, limits, velocities, non-increasing
    times, NaN) are logged and refused; the running plan continues.

Physics, rendering and publishing run in one thread of the node (it owns the EGL context);
each joint state is stamped with the node clock at the start plus simulated time, one per
state period, so rates and stamps are exact even when rendering delays a burst.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image, JointState
from tf2_msgs.msg import TFMessage
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg

from vap_ros.data import messages
from vap_ros.data.messages import plan_to_trajectory
from vap_ros.errors import ConfigError, VapError
from vap_ros.robot import JointStateMapper
from vap_ros.ros import convert
from vap_ros.ros.node_utils import SENSOR_QOS, STATIC_QOS, ErrorLog, reliable_qos
from vap_ros.ros.params import NodeParams, declare, param
from vap_ros.ros.runtime import run_node

__all__ = ["SimRigNode", "SimRigParams", "main", "scene_config"]


@dataclass(frozen=True)
class SimRigParams(NodeParams):
    """The sim rig node's parameters: the scene options use ``SceneConfig``'s names."""

    robot: str = param("panda", "robot preset (MuJoCo scene from its URDF)")
    seed: int = param(0, "scene seed: layout, objects, camera jitter")
    cameras: tuple[str, ...] = param(("front", "left", "right"),
                                     "fixed cameras to simulate, from the default rig: front, "
                                     "left, right")
    wrist_camera: bool = param(False, "add a camera on the hand (topic /wrist/image_raw)")
    randomize_cameras: bool = param(False, "jitter the fixed cameras' viewpoints (from the seed)")
    width: int = param(128, "image width, pixels")
    height: int = param(128, "image height, pixels")
    camera_hz: int = param(10, "image rate; must divide physics_hz")
    state_hz: int = param(100, "/joint_states rate; must divide physics_hz")
    physics_hz: int = param(500, "simulation steps per second")
    objects: tuple[int, int] = param((2, 4), "fewest and most objects on the table")
    msaa_samples: int = param(4, "render anti-aliasing samples (0 = off, faster)")
    command_topic: str = param("/planned_trajectory",
                               "trajectory_msgs/JointTrajectory plans to execute")
    max_lag_s: float = param(0.5, "if the simulation falls this far behind real time, skip "
                                  "ahead")


def scene_config(p: SimRigParams):
    """The validated SceneConfig of the node's parameters (the same names).

    Raises:
        ConfigError: unknown camera names or inconsistent rates/sizes.
    """
    from vap_ros.sim import DEFAULT_CAMERAS, SceneConfig

    known = {c.name: c for c in DEFAULT_CAMERAS}
    unknown = [n for n in p.cameras if n not in known]
    if unknown:
        raise ConfigError(f"unknown cameras {unknown}; the simulated rig has {sorted(known)}",
                          key="cameras", value=list(p.cameras))
    return SceneConfig(
        robot=p.robot, width=p.width, height=p.height, cameras=tuple(known[n] for n in p.cameras),
        wrist_camera=p.wrist_camera, randomize_cameras=p.randomize_cameras, objects=p.objects,
        physics_hz=p.physics_hz, state_hz=p.state_hz, camera_hz=p.camera_hz,
        msaa_samples=p.msaa_samples, markers=False)


class SimRigNode(Node):
    """See the module docstring. Keyword arguments go to ``rclpy.node.Node`` (``context``,
    ``parameter_overrides`` …)."""

    def __init__(self, node_name: str = "sim_rig", **node_kwargs) -> None:
        super().__init__(node_name, **node_kwargs)
        p = self.params = declare(self, SimRigParams)
        self.errors = ErrorLog(self.get_logger())
        from vap_ros.sim import SimRig, home_configuration

        self.cfg = scene_config(p)
        rng = np.random.default_rng(p.seed)
        self.rig = SimRig.from_config(self.cfg, rng, q0=home_configuration())
        self.robot = self.rig.robot
        self.mapper = JointStateMapper.for_robot(self.robot)
        self.cameras = {c.name: c for c in self.rig.cameras()}
        self._lock = threading.Lock()  # guards the rig between the sim thread and callbacks

        self.pub_js = self.create_publisher(JointState, "/joint_states", reliable_qos(10))
        self.pub_img = {n: self.create_publisher(Image, f"/{n}/image_raw", SENSOR_QOS)
                        for n in self.cameras}
        self.pub_info = {n: self.create_publisher(CameraInfo, f"/{n}/camera_info",
                                                  reliable_qos(1)) for n in self.cameras}
        self.pub_tf = self.create_publisher(TFMessage, "/tf_static", STATIC_QOS)
        self.create_subscription(JointTrajectoryMsg, p.command_topic, self._on_plan,
                                 reliable_qos(5))
        self.t0_ns = self.get_clock().now().nanoseconds  # node time of simulated time 0
        self._publish_tf_static()
        self.plans_executed = 0
        self.plans_refused = 0
        self._running = True
        self._thread = threading.Thread(target=self._loop, name="sim_rig", daemon=True)
        self._thread.start()
        self.get_logger().info(
            f"simulated rig: cameras {list(self.cameras)} {self.cfg.width}x{self.cfg.height} "
            f"@ {self.cfg.camera_hz} Hz, /joint_states @ {self.cfg.state_hz} Hz, plans on "
            f"{p.command_topic}")

    # ------------------------------------------------------------------ publishing
    def _publish_tf_static(self) -> None:
        tfs = [convert.transform_msg(c.T_base_cam, c.base_frame, c.frame_id, self.t0_ns)
               for n, c in self.cameras.items() if n != "wrist"]
        if self.rig.scene.T_hand_wrist is not None:
            tfs.append(convert.transform_msg(self.rig.scene.T_hand_wrist, "panda_hand",
                                             "wrist_optical_frame", self.t0_ns))
        self.pub_tf.publish(TFMessage(transforms=tfs))

    def _publish_state(self, js) -> None:
        msg = convert.joint_state_msg(js.names, js.position, self.t0_ns + js.stamp_ns,
                                      js.velocity)
        msg.effort = [float(x) for x in js.effort]
        self.pub_js.publish(msg)

    def _publish_images(self, stamp_ns: int, images: dict) -> None:
        for name, rgb in images.items():
            cam = self.cameras[name]
            self.pub_info[name].publish(convert.camera_info_msg(cam, stamp_ns))
            self.pub_img[name].publish(convert.image_msg(rgb, stamp_ns, cam.frame_id))

    # ------------------------------------------------------------------ simulation thread
    def _loop(self) -> None:
        cfg = self.cfg
        steps_state = cfg.physics_hz // cfg.state_hz
        states_per_frame = cfg.state_hz // cfg.camera_hz
        period_ns = 1_000_000_000 // cfg.state_hz
        max_lag_ns = int(self.params.max_lag_s * 1e9)
        k = 0  # state periods simulated
        try:
            with self._lock:  # warm-up: the renderer's EGL context and mesh upload (~0.5 s)
                self.rig.render(list(self.cameras))
            wall0 = time.monotonic_ns()
            while self._running and rclpy.ok(context=self.context):
                behind = time.monotonic_ns() - wall0 - k * period_ns
                if behind < 0:
                    time.sleep(min(-behind, period_ns) * 1e-9)
                    continue
                if behind > max_lag_ns:  # too slow for real time: skip ahead, say so
                    skipped = behind // period_ns
                    wall0 += skipped * period_ns
                    self.errors.error("sim_rig", f"simulation {behind * 1e-9:.2f} s behind "
                                      "real time; skipping ahead", kind="lag")
                with self._lock:
                    self.rig.step(steps_state)
                    js = self.rig.joint_state()
                    images = (self.rig.render(list(self.cameras))
                              if k % states_per_frame == 0 else None)
                self._publish_state(js)
                if images is not None:
                    self._publish_images(self.t0_ns + js.stamp_ns, images)
                k += 1
        except Exception as err:  # the thread must not die silently
            if self._running:
                self.get_logger().error(f"simulation thread stopped: {err!r}")
            raise
        finally:
            with self._lock:
                self.rig.close()  # the renderer belongs to this thread's EGL context

    # ------------------------------------------------------------------ commands
    def _on_plan(self, msg: JointTrajectoryMsg) -> None:
        try:
            plan = plan_to_trajectory(msg, 0, self.mapper, start_ns=0)
            stamp = messages.stamp_ns(msg.header.stamp)
            with self._lock:
                start = None if stamp == 0 else stamp - self.t0_ns
                running = self.rig.execute(plan, start_ns=start)
        except VapError as err:
            self.plans_refused += 1
            self.errors.error(f"plan on {self.params.command_topic}",
                              f"refused: {err}", kind="plan")
            return
        self.plans_executed += 1
        self.errors.info(f"executing a plan of {len(running)} points over "
                         f"{running.duration_ns * 1e-9:.2f} s")

    def close(self) -> None:
        """Stop the simulation thread (called by ``run_node`` and tests)."""
        self._running = False
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


def main(args=None) -> None:
    run_node(SimRigNode, args)


if __name__ == "__main__":  # pragma: no cover
    main()
