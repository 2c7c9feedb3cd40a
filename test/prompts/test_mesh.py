"""The robot mesh silhouette/depth renderer: against the simulator's own rendering, against
an analytic cube (any URDF with meshes), intrinsics, distortion, and bad input."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from vap_ros.camera import Camera
from vap_ros.errors import ConfigError
from vap_ros.prompts.mesh import MeshRenderer
from vap_ros.robot import RobotModel

pytestmark = pytest.mark.mujoco

HALF = 0.05  # the cube's half side, metres


def _cube_stl(path) -> None:
    """An ASCII STL cube of side 2 * HALF centred on its origin."""
    v = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float) * HALF
    faces = [(0, 1, 3), (0, 3, 2), (4, 6, 7), (4, 7, 5), (0, 4, 5), (0, 5, 1),
             (2, 3, 7), (2, 7, 6), (0, 2, 6), (0, 6, 4), (1, 5, 7), (1, 7, 3)]
    lines = ["solid cube"]
    for f in faces:
        a, b, c = v[list(f)]
        n = np.cross(b - a, c - a)
        n /= np.linalg.norm(n)
        lines += [f"facet normal {n[0]} {n[1]} {n[2]}", "outer loop",
                  *[f"vertex {p[0]} {p[1]} {p[2]}" for p in (a, b, c)], "endloop", "endfacet"]
    path.write_text("\n".join(lines + ["endsolid cube"]))


@pytest.fixture(scope="module")
def cube_robot(tmp_path_factory):
    """A one-joint URDF: base, and a link carrying a cube mesh 0.5 m up (visual) and a box
    of the same size (collision)."""
    d = tmp_path_factory.mktemp("cube_urdf")
    _cube_stl(d / "cube.stl")
    s = 2 * HALF
    (d / "cube.urdf").write_text(f"""<?xml version="1.0"?>
<robot name="cube">
  <link name="base"/>
  <link name="arm">
    <visual><origin xyz="0 0 0.5"/><geometry><mesh filename="{d / 'cube.stl'}"/></geometry>
    </visual>
    <collision><origin xyz="0 0 0.5"/><geometry><box size="{s} {s} {s}"/></geometry>
    </collision>
    <inertial><mass value="1"/><inertia ixx="1" ixy="0" ixz="0" iyy="1" iyz="0" izz="1"/>
    </inertial>
  </link>
  <joint name="j" type="revolute"><parent link="base"/><child link="arm"/>
    <axis xyz="0 0 1"/><limit lower="-3" upper="3" effort="1" velocity="1"/></joint>
</robot>""")
    return RobotModel(d / "cube.urdf", base_frame="base", tcp_frame="arm")


def _front_camera(K, dist=None, size=(120, 160)) -> Camera:
    """Looking along +x at the cube's front face from 1 m (optical z = base x)."""
    T = np.eye(4)
    T[:3, :3] = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
    T[:3, 3] = -T[:3, :3] @ np.array([-1.0, 0.0, 0.5])
    return Camera("front", size[1], size[0], K, np.zeros(5) if dist is None else dist, T)


def _analytic_mask(cam: Camera) -> np.ndarray:
    """Pixel centres inside the projected front face (the only face the camera sees)."""
    u, v = np.meshgrid(np.arange(cam.width) + 0.0, np.arange(cam.height) + 0.0)
    pts = np.stack([u, v], -1).reshape(-1, 1, 2)
    n = cv2.undistortPoints(pts, cam.K, cam.dist).reshape(cam.height, cam.width, 2)
    # the face is the plane x = -HALF in the base frame, i.e. depth 1 - HALF
    z = 1.0 - HALF
    y_base, z_base = -n[..., 0] * z, 0.5 - n[..., 1] * z
    return (np.abs(y_base) <= HALF) & (np.abs(z_base - 0.5) <= HALF)


@pytest.mark.parametrize("geometry", ["visual", "collision"])
def test_cube_matches_the_analytic_projection(cube_robot, geometry):
    r = MeshRenderer(cube_robot, geometry=geometry)
    K = np.array([[150.0, 0.0, 87.3], [0.0, 140.0, 52.6], [0.0, 0.0, 1.0]])  # off centre
    for dist in (None, np.array([-0.2, 0.05, 0.001, -0.002, 0.0])):
        cam = _front_camera(K, dist)
        out = r.render(np.zeros((1, 1)), [cam], links=True)
        sil, depth = out.silhouette[0, 0], out.depth[0, 0]
        truth = _analytic_mask(cam)
        wrong = sil ^ truth
        edge = cv2.morphologyEx(truth.astype(np.uint8), cv2.MORPH_GRADIENT,
                                np.ones((3, 3), np.uint8)) > 0
        assert truth.sum() > 150
        assert not (wrong & ~edge).any()  # any disagreement lies on the outline
        assert wrong.sum() < 0.15 * edge.sum()
        inner = cv2.erode(truth.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        np.testing.assert_allclose(depth[inner], 1.0 - HALF, atol=2e-4)
        assert (depth[~sil] == 0).all()
        assert set(np.unique(out.link[0, 0])) == {-1, r.link_names.index("arm")}


def test_depth_and_silhouette_follow_the_joint(cube_robot):
    r = MeshRenderer(cube_robot, geometry="collision")
    # principal point on a pixel centre: the turned cube's front edge is sampled exactly
    cam = _front_camera(np.array([[150.0, 0, 80.0], [0, 150.0, 60.0], [0, 0, 1]]))
    q = np.array([[0.0], [np.pi / 4]])  # the cube turned by 45 deg shows an edge first
    out = r.render(q, [cam])
    assert out.silhouette.shape == (1, 2, 120, 160)
    d0, d1 = out.depth[0, 0], out.depth[0, 1]
    assert d1[d1 > 0].min() == pytest.approx(1.0 - HALF * np.sqrt(2), abs=2e-4)
    assert d1[60, 80] == pytest.approx(1.0 - HALF * np.sqrt(2), abs=2e-4)
    assert out.silhouette[0, 1].sum() > out.silhouette[0, 0].sum()  # wider when turned
    assert d0[60, 80] == pytest.approx(1.0 - HALF, abs=2e-4)


def test_silhouettes_equal_the_simulators_robot():
    """The renderer built from pinocchio's geometry draws the Panda exactly where the
    simulated rig (MuJoCo's own URDF import) draws it."""
    import mujoco

    from vap_ros.sim import HOME_Q, SceneConfig, SimRig

    cfg = SceneConfig(width=96, height=96, msaa_samples=0, randomize_cameras=True)
    q = np.clip(HOME_Q + np.random.default_rng(1).uniform(-0.4, 0.4, 7), -2.5, 2.5)
    with SimRig.from_config(cfg, np.random.default_rng(3)) as rig:
        rig.reset(q, 0.05)
        mujoco.mj_forward(rig.model, rig.data)
        m = rig.model
        robot_bodies = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, b.name)
                        for b in rig.robot.model.frames if b.name.startswith("panda_")]
        r = mujoco.Renderer(m, 96, 96)
        r.enable_segmentation_rendering()
        mesh = MeshRenderer(rig.robot, geometry="collision")
        for cam in rig.cameras():
            r.update_scene(rig.data, camera=cam.name)
            seg = r.render()
            gid = np.clip(seg[..., 0], 0, None)
            sim = (seg[..., 0] >= 0) & (seg[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM)) & \
                np.isin(m.geom_bodyid[gid], robot_bodies) & (m.geom_group[gid] < 3)
            ours = mesh.render(rig.arm_q[None], [cam], rig.gripper_width_m).silhouette[0, 0]
            assert sim.sum() > 200
            assert (sim ^ ours).sum() <= 2, cam.name
        r.close()


def test_renders_from_any_thread(cube_robot):
    """An EGL context is current in one thread at a time: the renderer keeps its GL work on a
    thread of its own, so another thread may render while the first one that rendered is still
    alive (the clip builder's worker threads, node callbacks); without that: EGL_BAD_ACCESS."""
    import threading

    r = MeshRenderer(cube_robot, geometry="collision")
    cam = _front_camera(np.array([[150.0, 0, 79.5], [0, 150.0, 59.5], [0, 0, 1]]))
    rendered, release, got = threading.Event(), threading.Event(), {}

    def worker():
        try:
            got["worker"] = r.render(np.zeros((1, 1)), [cam]).depth
        finally:
            rendered.set()
        release.wait()

    t = threading.Thread(target=worker)
    t.start()
    try:
        assert rendered.wait(60)
        here = r.render(np.zeros((1, 1)), [cam]).depth  # the worker is still alive
    finally:
        release.set()
        t.join()
    assert (here > 0).sum() > 150
    np.testing.assert_array_equal(here, got["worker"])
    r.close()
    np.testing.assert_array_equal(r.render(np.zeros((1, 1)), [cam]).depth, here)  # restarts


def test_bad_input(cube_robot):
    with pytest.raises(ConfigError, match="geometry must be one of"):
        MeshRenderer(cube_robot, geometry="shiny")
    with pytest.raises(ConfigError, match="are not links"):
        MeshRenderer(cube_robot, exclude_links=("wing",))
    with pytest.raises(ConfigError, match="no visual geometry"):
        MeshRenderer(cube_robot, exclude_links=("arm",))
    r = MeshRenderer(cube_robot, geometry="collision")
    cam = _front_camera(np.array([[150.0, 0, 79.5], [0, 150.0, 59.5], [0, 0, 1]]))
    with pytest.raises(ConfigError, match="geometry poses must be"):
        r.render_poses(np.zeros((2, 3, 4, 4)), [cam])
    with pytest.raises(ConfigError, match="at least one camera"):
        r.render(np.zeros((1, 1)), [])
    other = replace(cam, width=80, height=60)
    with pytest.raises(ConfigError, match="different sizes"):
        r.render(np.zeros((1, 1)), [cam, other])
