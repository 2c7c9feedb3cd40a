import numpy as np
import pytest

from vap_ros.camera import Camera, load_calibration, look_at, save_calibration
from vap_ros.errors import CalibrationError


def test_projection_matches_pinhole_math():
    cam = look_at("c", (1.5, 0.2, 0.9), (0.45, 0.0, 0.35))
    pts = np.random.default_rng(0).uniform([0.2, -0.3, 0.0], [0.7, 0.3, 0.8], (50, 3))
    pc = pts @ cam.T_cam_base[:3, :3].T + cam.T_cam_base[:3, 3]
    uv_ref = (pc[:, :2] / pc[:, 2:]) * [cam.K[0, 0], cam.K[1, 1]] + cam.K[:2, 2]
    proj = cam.project(pts)
    np.testing.assert_allclose(proj.uv, uv_ref, atol=1e-9)
    np.testing.assert_allclose(proj.depth, pc[:, 2])
    assert proj.visible.all()


def test_distortion_follows_opencv_model():
    d = np.array([-0.2, 0.05, 0.001, -0.002, 0.01])
    cam = look_at("c", (1.5, 0.0, 0.8), (0.45, 0.0, 0.35), dist=d)
    p = np.array([[0.6, 0.25, 0.5]])
    pc = cam.to_camera_frame(p)[0]
    x, y = pc[:2] / pc[2]
    r2 = x * x + y * y
    radial = 1 + d[0] * r2 + d[1] * r2**2 + d[4] * r2**3
    xd = x * radial + 2 * d[2] * x * y + d[3] * (r2 + 2 * x * x)
    yd = y * radial + d[2] * (r2 + 2 * y * y) + 2 * d[3] * x * y
    uv = [cam.K[0, 0] * xd + cam.K[0, 2], cam.K[1, 1] * yd + cam.K[1, 2]]
    np.testing.assert_allclose(cam.project(p).uv[0], uv, atol=1e-9)


def test_visibility_flags():
    cam = look_at("c", (1.5, 0.0, 0.5), (0.0, 0.0, 0.5))
    pts = np.array([[0.0, 0.0, 0.5],      # in view
                    [3.0, 0.0, 0.5],      # behind the camera
                    [0.0, 5.0, 0.5]])     # in front but far outside the image
    proj = cam.project(pts)
    assert proj.visible.tolist() == [True, False, False]
    assert np.isnan(proj.uv[1]).all() and proj.depth[1] < 0
    assert np.isfinite(proj.uv[2]).all()


def test_scaled_keeps_geometry():
    cam = look_at("c", (1.5, 0.2, 0.9), (0.45, 0.0, 0.35), width=640, height=480)
    small = cam.scaled(320, 240)
    p = np.array([[0.5, 0.1, 0.3]])
    uv, uv_s = cam.project(p).uv[0], small.project(p).uv[0]
    np.testing.assert_allclose((uv_s + 0.5), (uv + 0.5) * 0.5, atol=1e-9)


def test_from_camera_info_dict_and_message_like():
    T = look_at("c", (1.5, 0.2, 0.9), (0.45, 0.0, 0.35)).T_cam_base
    info = {"width": 640, "height": 480, "distortion_model": "plumb_bob",
            "d": [0.1, 0, 0, 0, 0], "k": [500, 0, 320, 0, 500, 240, 0, 0, 1],
            "header": {"frame_id": "front_optical_frame"}}
    cam = Camera.from_camera_info(info, T, name="front")
    assert cam.frame_id == "front_optical_frame" and cam.K[0, 2] == 320

    class Msg:  # attribute access like a sensor_msgs/CameraInfo object
        pass
    m = Msg()
    for k, v in info.items():
        setattr(m, k, v)
    m.header = type("H", (), {"frame_id": "f"})()
    assert Camera.from_camera_info(m, T).frame_id == "f"


@pytest.mark.parametrize("change,match", [
    ({"k": [0] * 9}, "uncalibrated"),
    ({"distortion_model": "kannala_magic"}, "not supported"),
    ({"width": 0}, "positive"),
    ({"d": [0.1, 0.2, 0.3]}, "3 distortion coefficients"),
])
def test_bad_camera_info(change, match):
    info = {"width": 64, "height": 48, "distortion_model": "plumb_bob", "d": [0] * 5,
            "k": [50, 0, 32, 0, 50, 24, 0, 0, 1]}
    info.update(change)
    with pytest.raises(CalibrationError, match=match):
        Camera.from_camera_info(info, np.eye(4))


def test_not_rigid_extrinsic():
    with pytest.raises(CalibrationError, match="rigid"):
        Camera("c", 10, 10, np.diag([5.0, 5.0, 1.0]), T_cam_base=np.diag([2.0, 1, 1, 1]))


def test_calibration_yaml_round_trip(tmp_path, rig_cameras):
    one = save_calibration(rig_cameras[0], tmp_path / "front.yaml")
    loaded = load_calibration(one)["front"]
    np.testing.assert_allclose(loaded.T_cam_base, rig_cameras[0].T_cam_base, atol=1e-12)
    np.testing.assert_allclose(loaded.K, rig_cameras[0].K)
    many = load_calibration(save_calibration(rig_cameras, tmp_path / "rig.yaml"))
    assert list(many) == ["front", "left", "right"]
    # The intrinsics part is ROS camera_calibration's format.
    import yaml
    doc = yaml.safe_load(one.read_text())
    assert doc["camera_matrix"]["rows"] == 3 and len(doc["camera_matrix"]["data"]) == 9
    assert doc["distortion_model"] == "plumb_bob" and doc["image_width"] == 256


def test_calibration_errors(tmp_path):
    with pytest.raises(CalibrationError, match="not found"):
        load_calibration(tmp_path / "none.yaml")
    p = tmp_path / "noext.yaml"
    p.write_text("image_width: 10\nimage_height: 10\ncamera_matrix: {rows: 3, cols: 3, "
                 "data: [5, 0, 5, 0, 5, 5, 0, 0, 1]}\n")
    with pytest.raises(CalibrationError, match="no 'extrinsics'"):
        load_calibration(p)
    p.write_text("image_width: 10\nimage_height: 10\ncamera_matrix: {data: [1, 2]}\n")
    with pytest.raises(CalibrationError, match="3x3"):
        load_calibration(p)
