"""Robot silhouette and depth images from the URDF meshes, through calibrated cameras.

``MeshRenderer.render(q, cameras, gripper_width_m, size)`` is the mesh counterpart of
``SkeletonRenderer.render``: for every camera and every configuration it returns the robot's
silhouette, its depth along the optical axis and (optionally) which link each pixel shows.

How: pinocchio loads the URDF's geometry (``visual`` meshes by default: DAE/STL/OBJ through
coal/assimp, or the ``collision`` geometry) with the *same* model that computes the
kinematics. Every geometry object becomes a mocap body of a robot-only MuJoCo scene, placed
from pinocchio's FK in the camera's optical frame; MuJoCo's renderer rasterises it headless
on the CPU (EGL/Mesa, or OSMesa). A MuJoCo camera with the exact pinhole intrinsics (focal
lengths and principal point in pixels) renders the view; a camera with lens distortion is
rendered as a padded pinhole and resampled through the distortion with ``cv2.remap``.

Threads: an EGL context is current in one thread at a time, so every GL call of a renderer runs
on one thread the renderer owns; ``render`` may be called from any thread (calls run one after
the other).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from vap_ros.camera import Camera
from vap_ros.errors import ConfigError
from vap_ros.prompts.skeleton import render_size
from vap_ros.robot import RobotModel

os.environ.setdefault("MUJOCO_GL", "egl")  # headless; must be set before mujoco is imported
import mujoco

__all__ = ["GEOMETRY_TYPES", "MeshRender", "MeshRenderer"]

GEOMETRY_TYPES = ("visual", "collision")
_FLIP = np.diag([1.0, -1.0, -1.0])  # OpenCV optical frame <-> MuJoCo camera frame
_ZNEAR, _ZFAR = 0.01, 20.0  # metres (stat.extent is 1)


@dataclass(frozen=True)
class MeshRender:
    """Rendered views.

    Attributes:
        silhouette: (V, T, H, W) bool, True where the robot is.
        depth: (V, T, H, W) float32 metres along the optical axis, 0 where no robot.
        link: (V, T, H, W) int16 index into ``MeshRenderer.link_names`` (-1: background),
            or None when not requested.
    """

    silhouette: np.ndarray
    depth: np.ndarray
    link: np.ndarray | None = None


def _mesh_arrays(geometry) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (N, 3), faces (M, 3)) of a coal BVH model or convex."""
    verts = np.asarray(geometry.vertices(), np.float64).reshape(-1, 3)
    tri = geometry.tri_indices
    faces = np.array([[t[0], t[1], t[2]] for t in (tri(i) for i in range(geometry.num_tris))],
                     np.int32).reshape(-1, 3)
    return verts, faces


class MeshRenderer:
    """Silhouette/depth renderer of one robot's meshes (headless, CPU).

    Args:
        robot: the kinematic model (its URDF provides the meshes).
        geometry: ``visual`` (what the robot looks like) or ``collision``.
        max_size: largest image side the offscreen buffer holds (grown on demand).
        exclude_links: links left out (e.g. fingers whose opening is unknown).

    Raises:
        ConfigError: the URDF's geometry cannot be loaded, is empty, or holds a shape type
            that cannot be rendered.
    """

    def __init__(self, robot: RobotModel, *, geometry: str = "visual", max_size: int = 1024,
                 exclude_links: Sequence[str] = ()):
        import pinocchio as pin

        if geometry not in GEOMETRY_TYPES:
            raise ConfigError(f"geometry must be one of {GEOMETRY_TYPES}, got {geometry!r}")
        if robot.urdf_path is None:
            raise ConfigError(f"robot {robot.name!r} was built from URDF text; the mesh "
                              "renderer loads its meshes through a URDF file")
        self.robot = robot
        self.geometry = geometry
        self._urdf_name = robot.urdf_path.name  # for messages
        kind = pin.GeometryType.VISUAL if geometry == "visual" else pin.GeometryType.COLLISION
        try:
            self._gmodel = pin.buildGeomFromUrdf(
                robot.model, str(robot.urdf_path), kind,
                package_dirs=[str(d) for d in robot.package_dirs])
        except Exception as err:  # pinocchio raises ValueError/RuntimeError for missing meshes
            raise ConfigError(f"cannot load the {geometry} geometry of {robot.urdf_path}: "
                              f"{err}") from err
        frames = robot.model.frames
        unknown = set(exclude_links) - {f.name for f in frames}
        if unknown:
            raise ConfigError(f"exclude_links {sorted(unknown)} are not links of "
                              f"{self._urdf_name}")
        drop = [str(o.name) for o in self._gmodel.geometryObjects
                if frames[o.parentFrame].name in exclude_links]
        for name in drop:
            self._gmodel.removeGeometryObject(name)
        if not self._gmodel.ngeoms:
            other = "collision" if geometry == "visual" else "visual"
            raise ConfigError(f"{self._urdf_name} has no {geometry} geometry; try "
                              f"geometry={other!r}")
        self._gdata = pin.GeometryData(self._gmodel)
        self._pdata = robot.model.createData()
        frames = robot.model.frames
        self.link_names: tuple[str, ...] = tuple(dict.fromkeys(
            frames[o.parentFrame].name for o in self._gmodel.geometryObjects))
        self._geom_link = np.array([self.link_names.index(frames[o.parentFrame].name)
                                    for o in self._gmodel.geometryObjects], np.int16)
        self._max_size = int(max_size)
        self._gl_thread: ThreadPoolExecutor | None = None
        self._gl_ident: int | None = None
        self._build()

    @classmethod
    def from_preset(cls, preset: str = "panda", *, geometry: str = "visual") -> "MeshRenderer":
        return cls(RobotModel.from_preset(preset), geometry=geometry)

    # ------------------------------------------------------------------ scene
    def _build(self) -> None:
        spec = mujoco.MjSpec()
        spec.modelname = "vap_ros_robot_mesh"
        spec.stat.extent = 1.0
        spec.visual.map.znear = _ZNEAR
        spec.visual.map.zfar = _ZFAR
        spec.visual.global_.offwidth = self._max_size
        spec.visual.global_.offheight = self._max_size
        spec.visual.quality.offsamples = 0
        shapes = {"Box": mujoco.mjtGeom.mjGEOM_BOX, "Sphere": mujoco.mjtGeom.mjGEOM_SPHERE,
                  "Cylinder": mujoco.mjtGeom.mjGEOM_CYLINDER,
                  "Capsule": mujoco.mjtGeom.mjGEOM_CAPSULE}
        for k, obj in enumerate(self._gmodel.geometryObjects):
            body = spec.worldbody.add_body(name=f"g{k}", mocap=True)
            g = obj.geometry
            kind = type(g).__name__
            common = dict(name=f"geom{k}", contype=0, conaffinity=0, group=0,
                          rgba=[0.8, 0.8, 0.8, 1.0], mass=1.0)
            if kind.startswith("BVHModel") or kind.startswith("Convex"):
                verts, faces = _mesh_arrays(g)
                if not faces.size:
                    raise ConfigError(f"geometry {obj.name!r} ({obj.meshPath}) has no faces")
                mesh = spec.add_mesh(name=f"mesh{k}")
                mesh.uservert = verts.reshape(-1).tolist()  # coal applied meshScale
                mesh.userface = faces.reshape(-1).tolist()
                mesh.inertia = mujoco.mjtMeshInertia.mjMESH_INERTIA_SHELL
                body.add_geom(type=mujoco.mjtGeom.mjGEOM_MESH, meshname=f"mesh{k}", **common)
            elif kind == "Box":
                body.add_geom(type=shapes[kind], size=list(g.halfSide), **common)
            elif kind == "Sphere":
                body.add_geom(type=shapes[kind], size=[g.radius, 0, 0], **common)
            elif kind in ("Cylinder", "Capsule"):
                body.add_geom(type=shapes[kind], size=[g.radius, g.halfLength, 0], **common)
            else:
                raise ConfigError(f"geometry {obj.name!r} of {self._urdf_name} is a "
                                  f"{kind}, which the mesh renderer cannot draw")
        cam = spec.worldbody.add_camera(name="view", pos=[0, 0, 0])
        q = np.zeros(4)
        mujoco.mju_mat2Quat(q, _FLIP.reshape(-1))
        cam.quat = q.tolist()
        cam.sensor_size = [1.0, 1.0]  # switch the camera to explicit intrinsics
        cam.resolution = [1, 1]
        cam.focal_pixel = [1.0, 1.0]
        try:
            self._model = spec.compile()
        except Exception as err:
            raise ConfigError(f"MuJoCo cannot build the robot mesh scene of "
                              f"{self._urdf_name}: {err}") from err
        self._data = mujoco.MjData(self._model)
        self._renderers: dict[tuple[int, int, bool], mujoco.Renderer] = {}
        # undistortion remaps by camera: ((map_x, map_y), padding px)
        self._maps: dict[tuple, tuple[tuple[np.ndarray, np.ndarray], int]] = {}
        self._geom_ids = np.arange(self._model.ngeom)

    def _renderer(self, H: int, W: int, seg: bool) -> "mujoco.Renderer":
        if max(H, W) > self._max_size:
            self._release()
            self._max_size = int(2 ** np.ceil(np.log2(max(H, W))))
            self._build()
        key = (H, W, seg)
        r = self._renderers.get(key)
        if r is None:
            r = mujoco.Renderer(self._model, height=H, width=W)
            if seg:
                r.enable_segmentation_rendering()
            else:
                r.enable_depth_rendering()
            self._renderers[key] = r
        return r

    def _on_gl_thread(self, fn, *args):
        """``fn(*args)`` on this renderer's GL thread (started on first use)."""
        if self._gl_ident == threading.get_ident():
            return fn(*args)
        if self._gl_thread is None:
            self._gl_thread = ThreadPoolExecutor(1, thread_name_prefix="mesh-gl")
            self._gl_ident = self._gl_thread.submit(threading.get_ident).result()
        return self._gl_thread.submit(fn, *args).result()

    def _release(self) -> None:
        for r in self._renderers.values():
            r.close()
        self._renderers = {}

    def close(self) -> None:
        """Free the GL contexts and stop the GL thread (a later render starts them again)."""
        pool = self._gl_thread
        if pool is None:
            return
        self._on_gl_thread(self._release)
        self._gl_thread, self._gl_ident = None, None
        pool.shutdown(wait=False)

    def __del__(self):  # pragma: no cover - best effort release of GL contexts
        try:
            self.close()
        except Exception:  # noqa: BLE001 - at interpreter exit GL may already be gone
            pass

    # ------------------------------------------------------------------ kinematics
    def geometry_poses(self, arm_q: np.ndarray, gripper_width_m=None) -> np.ndarray:
        """``T_base_geom`` of every geometry object: (T, G, 4, 4)."""
        import pinocchio as pin

        qs = self.robot.configurations(arm_q, gripper_width_m)
        base = self.robot.frame_id(self.robot.base_frame)
        out = np.empty((qs.shape[0], self._gmodel.ngeoms, 4, 4))
        for t, q in enumerate(qs):
            pin.framesForwardKinematics(self.robot.model, self._pdata, q)
            pin.updateGeometryPlacements(self.robot.model, self._pdata, self._gmodel,
                                         self._gdata)
            inv = self._pdata.oMf[base].inverse()
            for k in range(self._gmodel.ngeoms):
                out[t, k] = (inv * self._gdata.oMg[k]).homogeneous
        return out

    # ------------------------------------------------------------------ rendering
    def render(self, arm_q: np.ndarray, cameras: Sequence[Camera], gripper_width_m=None,
               size: tuple[int, int] | None = None, *, links: bool = False) -> MeshRender:
        """Render every camera at every configuration.

        Args:
            arm_q: (T, n) arm positions (radians, ``robot.arm_joint_names`` order).
            cameras: V calibrated cameras.
            gripper_width_m: (T,) or scalar opening; None = the preset default.
            size: output (height, width); None = each camera's own size (all must agree).
            links: also return the per-pixel link index (one more render pass).
        """
        return self.render_poses(self.geometry_poses(arm_q, gripper_width_m), cameras, size,
                                 links=links)

    def render_poses(self, T_base_geom: np.ndarray, cameras: Sequence[Camera],
                     size: tuple[int, int] | None = None, *, links: bool = False) -> MeshRender:
        """Like ``render`` for precomputed ``geometry_poses`` (T, G, 4, 4)."""
        poses = np.asarray(T_base_geom, np.float64)
        if poses.ndim != 4 or poses.shape[1:] != (self._gmodel.ngeoms, 4, 4):
            raise ConfigError(f"geometry poses must be (T, {self._gmodel.ngeoms}, 4, 4), "
                              f"got {poses.shape}")
        H, W = render_size(cameras, size)
        return self._on_gl_thread(self._render_poses, poses, list(cameras), (H, W), links)

    def _render_poses(self, poses: np.ndarray, cameras: list[Camera], size: tuple[int, int],
                      links: bool) -> MeshRender:
        H, W = size
        V, T = len(cameras), poses.shape[0]
        depth = np.zeros((V, T, H, W), np.float32)
        link = np.full((V, T, H, W), -1, np.int16) if links else None
        for v, cam in enumerate(cameras):
            c = cam if (cam.height, cam.width) == (H, W) else cam.scaled(W, H)
            K, pad, remap = self._pinhole(c)
            h, w = H + 2 * pad, W + 2 * pad
            self._set_intrinsics(K, w, h)
            T_cam_geom = np.einsum("ij,tgjk->tgik", c.T_cam_base, poses)
            for t in range(T):
                self._place(T_cam_geom[t])
                d = self._draw(h, w, seg=False)
                d = np.where(d < _ZFAR * 0.99, d, 0.0).astype(np.float32)
                depth[v, t] = d if remap is None else cv2.remap(
                    d, remap[0], remap[1], cv2.INTER_NEAREST)
                if link is not None:
                    s = self._draw(h, w, seg=True)[..., 0]
                    ids = np.where(s >= 0, self._geom_link[np.clip(s, 0, None)], -1)
                    ids = ids.astype(np.int16)
                    link[v, t] = ids if remap is None else cv2.remap(
                        ids, remap[0], remap[1], cv2.INTER_NEAREST, borderValue=-1)
        return MeshRender(depth > 0, depth, link)

    def _place(self, T_cam_geom: np.ndarray) -> None:
        d = self._data
        d.mocap_pos[:] = T_cam_geom[:, :3, 3]
        for k in range(T_cam_geom.shape[0]):
            mujoco.mju_mat2Quat(d.mocap_quat[k], T_cam_geom[k, :3, :3].reshape(-1))
        mujoco.mj_kinematics(self._model, d)
        mujoco.mj_camlight(self._model, d)

    def _draw(self, h: int, w: int, *, seg: bool) -> np.ndarray:
        r = self._renderer(h, w, seg)
        r.update_scene(self._data, camera=0)
        return r.render()

    def _set_intrinsics(self, K: np.ndarray, w: int, h: int) -> None:
        """Pixel units as MuJoCo's length unit: sensor = image, focal = fx, fy in pixels,
        principal point as MuJoCo's offset (image centre minus the pixel-corner principal
        point; OpenCV's pixel centres are 0.5 px from the corners)."""
        m = self._model
        m.cam_sensorsize[0] = [w, h]
        m.cam_resolution[0] = [w, h]
        m.cam_intrinsic[0] = [K[0, 0], K[1, 1], w / 2.0 - (K[0, 2] + 0.5),
                              h / 2.0 - (K[1, 2] + 0.5)]

    def _pinhole(self, cam: Camera
                 ) -> tuple[np.ndarray, int, tuple[np.ndarray, np.ndarray] | None]:
        """(pinhole K to render, padding px, remap (map_x, map_y) or None)."""
        if not np.any(cam.dist) or cam.distortion_model == "none":
            return cam.K, 0, None
        key = (cam.width, cam.height, cam.distortion_model, cam.K.tobytes(), cam.dist.tobytes())
        hit = self._maps.get(key)
        if hit is None:
            u, v = np.meshgrid(np.arange(cam.width, dtype=np.float64),
                               np.arange(cam.height, dtype=np.float64))
            pts = np.stack([u, v], -1).reshape(-1, 1, 2)
            if cam.distortion_model == "equidistant":
                und = cv2.fisheye.undistortPoints(pts, cam.K, cam.dist, P=cam.K)
            else:
                und = cv2.undistortPoints(pts, cam.K, cam.dist, P=cam.K)
            und = und.reshape(cam.height, cam.width, 2)
            lo = np.minimum(und.min(axis=(0, 1)), 0.0)
            hi = np.maximum(und.max(axis=(0, 1)) - [cam.width - 1, cam.height - 1], 0.0)
            pad = int(np.ceil(min(max(lo.__abs__().max(), hi.max()), max(cam.width,
                                                                         cam.height)))) + 1
            maps = ((und[..., 0] + pad).astype(np.float32), (und[..., 1] + pad).astype(np.float32))
            if len(self._maps) >= 16:  # a calibration being refined: a new lens each step
                self._maps.clear()
            hit = self._maps[key] = (maps, pad)
        maps, pad = hit
        K = cam.K.copy()
        K[0, 2] += pad
        K[1, 2] += pad
        return K, pad, maps
