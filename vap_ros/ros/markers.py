"""The 3D skeleton as a visualization_msgs/MarkerArray (RViz): one LINE_LIST for the coloured
links and one SPHERE_LIST for the joint discs, in the robot base frame."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from vap_ros.robot import SkeletonSpec
from vap_ros.ros.convert import stamp_msg

__all__ = ["skeleton_markers"]


def skeleton_markers(keypoints_base: np.ndarray, spec: SkeletonSpec, frame_id: str,
                     stamp_ns: int = 0, ns: str = "skeleton", line_width_m: float = 0.012,
                     disc_diameter_m: float = 0.03, lifetime_s: float = 1.0) -> MarkerArray:
    """MarkerArray for one pose: ``keypoints_base`` (K, 3) metres in ``frame_id``."""
    kps = np.asarray(keypoints_base, np.float64).reshape(-1, 3)
    pts = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in kps]
    stamp = stamp_msg(stamp_ns)
    life = Duration(sec=int(lifetime_s), nanosec=int((lifetime_s % 1) * 1e9))

    links = Marker()
    links.header.frame_id, links.header.stamp = frame_id, stamp
    links.ns, links.id, links.type, links.action = ns, 0, Marker.LINE_LIST, Marker.ADD
    links.pose.orientation.w = 1.0
    links.scale.x = line_width_m
    links.lifetime = life
    for (a, b), rgb in zip(spec.edges.tolist(), spec.colors.tolist()):
        if np.isfinite(kps[a]).all() and np.isfinite(kps[b]).all():
            c = ColorRGBA(r=rgb[0] / 255.0, g=rgb[1] / 255.0, b=rgb[2] / 255.0, a=1.0)
            links.points += [pts[a], pts[b]]
            links.colors += [c, c]
    links.color.a = 1.0

    discs = Marker()
    discs.header.frame_id, discs.header.stamp = frame_id, stamp
    discs.ns, discs.id, discs.type, discs.action = ns, 1, Marker.SPHERE_LIST, Marker.ADD
    discs.pose.orientation.w = 1.0
    discs.scale.x = discs.scale.y = discs.scale.z = disc_diameter_m
    discs.color = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)
    discs.lifetime = life
    discs.points = [pts[i] for i in spec.discs.tolist() if np.isfinite(kps[i]).all()]
    return MarkerArray(markers=[links, discs])
