"""The alignment score of a calibration, and the checks that refuse hopeless input.

Score: how far (pixels, native resolution) the outline of the robot rendered from the URDF
meshes through the calibration lies from the outline of what moves in the images. The
observation does not depend on the calibration being scored (plain temporal median), so
good and bad calibrations are measured against the same masks: per frame, the rendered
silhouette's contour points where the rendered robot stays less than 40 % of the time (where
the median is the background) are looked up in the signed distance field of the observed
change mask; the score is the median absolute distance over all points of all frames. The
IoU of observed and predicted change (silhouette XOR its majority) is reported beside it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from vap_ros.calib.contours import ContourSet, contour_points, residuals
from vap_ros.calib.errors import CameraMovedError, RobotNotInViewError, TooFewMovingFramesError
from vap_ros.calib.frames import CalibrationFrames
from vap_ros.calib.observe import Observation, observe, subpixel_sdt
from vap_ros.camera import Camera

__all__ = [
    "MIN_DISTINCT_POSES",
    "THRESHOLD_PX",
    "AlignmentScore",
    "alignment_score",
    "check_frames",
    "check_view",
    "resize_images",
    "work_size",
]

#: Fewest distinct robot poses (link origins >= 1 cm apart) a camera needs.
MIN_DISTINCT_POSES = 10
#: A camera whose score (px at 256 px on the long side) exceeds this is flagged.
THRESHOLD_PX = 1.0
#: Size (long side, px) the score and the checks work at.
SCORE_SIDE = 320


@dataclass
class AlignmentScore:
    """How well a calibration puts the rendered robot onto the robot in the images.

    Attributes:
        camera: camera name.
        error_px: median outline distance in native pixels.
        error_px256: the same, scaled to an image of 256 px on its long side (what a clip
            sees; the threshold applies to it).
        iou: median over frames of the IoU of observed and predicted change masks.
        frames / points: frames and contour points measured.
        threshold_px256: the flagging threshold; ok: error_px256 <= threshold.
    """

    camera: str
    error_px: float
    error_px256: float
    iou: float
    frames: int
    points: int
    threshold_px256: float = THRESHOLD_PX

    @property
    def ok(self) -> bool:
        return bool(self.error_px256 <= self.threshold_px256)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["ok"] = self.ok
        return d

    def line(self) -> str:
        verdict = "ok" if self.ok else (
            f"MISALIGNED (> {self.threshold_px256:g} px at 256 px): run `vap-ros calibrate "
            f"refine BAG --camera {self.camera} --out {self.camera}.yaml`")
        return (f"alignment {self.camera}: outline error {self.error_px:.2f} px "
                f"({self.error_px256:.2f} px at 256 px), change IoU {self.iou:.2f}, "
                f"{self.frames} frames: {verdict}")


def work_size(cam: Camera, long_side: int = SCORE_SIDE) -> tuple[int, int]:
    """(H, W) of the camera's images scaled down so the longer side is ``long_side`` (never
    up, at least 16 px)."""
    s = min(1.0, long_side / max(cam.width, cam.height))
    return max(16, int(round(cam.height * s))), max(16, int(round(cam.width * s)))


def resize_images(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(T, H, W, 3) images at ``size`` (H, W) (INTER_AREA; the same array when they are)."""
    H, W = size
    if images.shape[1:3] == (H, W):
        return images
    return np.stack([cv2.resize(im, (W, H), interpolation=cv2.INTER_AREA) for im in images])


def check_frames(frames: CalibrationFrames, min_poses: int = MIN_DISTINCT_POSES) -> None:
    """Refuse frames that show the robot in too few distinct poses.

    Raises:
        TooFewMovingFramesError: naming the counts and what is needed.
    """
    if frames.distinct_poses < min_poses or len(frames) < min_poses:
        raise TooFewMovingFramesError(
            f"camera {frames.camera.name!r}: only {min(frames.distinct_poses, len(frames))} "
            f"of its {frames.candidates} images with joint states show the robot in distinct "
            f"poses (link origins >= 1 cm apart); at least {min_poses} are needed: use a "
            "recording where the arm moves in front of the camera", camera=frames.camera.name)


def background_motion(images: np.ndarray, near: np.ndarray, background: np.ndarray
                      ) -> np.ndarray:
    """Per frame, the translation (px) that registers its scene to the episode's median
    image: ECC alignment (OpenCV ``findTransformECC``) over the pixels away from the
    rendered robot (``near`` (T, H, W) excluded). ``inf`` where it does not converge."""
    bg = cv2.cvtColor(np.clip(background, 0, 255).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    crit = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-4)
    shift = np.zeros(len(images))
    for t, im in enumerate(images):
        mask = (~near[t]).astype(np.uint8)
        if mask.mean() < 0.05:
            continue  # the robot fills the view: nothing to register
        warp = np.eye(2, 3, dtype=np.float32)
        try:
            _, found = cv2.findTransformECC(bg, cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), warp,
                                            cv2.MOTION_TRANSLATION, crit, mask, 5)
            shift[t] = float(np.hypot(found[0, 2], found[1, 2]))
        except cv2.error:
            shift[t] = np.inf
    return shift


def check_view(cam: Camera, silhouettes: np.ndarray, obs: Observation) -> None:
    """Refuse a robot out of view, a view where nothing moves where the robot is, and a
    camera that moved (the scene away from the rendered robot shifts against the median
    image, or most of it changes).

    Args:
        cam: the calibration the silhouettes were rendered with (any size).
        silhouettes: (T, H, W) rendered robot silhouettes at the observation's size.
        obs: plain-median observation of the same frames.
    """
    T, H, W = silhouettes.shape
    name = cam.name
    area = silhouettes.reshape(T, -1).mean(axis=1)
    in_view = area > 0.002
    if in_view.mean() < 0.5:
        raise RobotNotInViewError(
            f"camera {name!r}: at its initial calibration the robot is in view in only "
            f"{int(in_view.sum())} of {T} frames (covering >= 0.2 % of the image); check the "
            "camera name, the bag's TF / camera_info, or pass --initial CALIB.yaml",
            camera=name)
    r = max(3, int(0.08 * np.hypot(H, W)))
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    near = np.stack([cv2.dilate(s.astype(np.uint8), k) > 0 for s in silhouettes])
    far = ~near
    shift = (background_motion(obs.images, near, obs.background) if obs.images is not None
             else np.zeros(T))
    moved = shift > 1.5
    if moved.mean() > 0.2:
        raise CameraMovedError(
            f"camera {name!r}: away from the robot the image shifts by more than 1.5 px "
            f"against the episode's median image in {int(moved.sum())} of {T} frames "
            f"(median shift {np.median(shift):.1f} px): the camera moved (a wrist camera, or "
            "a camera that was bumped); refinement needs a static camera", camera=name)
    changed_far = np.array([obs.masks[t][far[t]].mean() if far[t].any() else 0.0
                            for t in range(T)])
    if (changed_far > 0.25).mean() > 0.3:
        raise CameraMovedError(
            f"camera {name!r}: in {int((changed_far > 0.25).sum())} of {T} frames more than "
            f"25 % of the image away from the robot changed against the episode's median "
            f"image (median {100 * np.median(changed_far):.0f} %): the camera moved (a wrist "
            "camera, or a camera that was bumped); refinement needs a static camera",
            camera=name)
    changed_near = np.array([obs.masks[t][silhouettes[t]].mean() if silhouettes[t].any()
                             else 0.0 for t in range(T)])
    if np.median(changed_near) < 0.05 and (changed_near > 0.2).mean() < 0.2:
        raise RobotNotInViewError(
            f"camera {name!r}: nothing changes where the robot should be (median "
            f"{100 * np.median(changed_near):.1f} % of its rendered silhouette differs from "
            "the background): the robot is occluded or out of view, the calibration is far "
            "off (pass --initial CALIB.yaml), or the camera moves with the robot (a wrist "
            "camera)", camera=name)


def alignment_score(frames: CalibrationFrames, renderer, cam: Camera | None = None, *,
                    check: bool = False, obs: Observation | None = None) -> AlignmentScore:
    """Score ``cam`` (default ``frames.camera``) on ``frames`` (see the module docstring).

    Args:
        renderer: a ``MeshRenderer`` of the robot.
        check: run ``check_view`` first (raises its refusals).
        obs: a precomputed plain-median observation at the score's working size.
    """
    cam = cam or frames.camera
    size = work_size(cam)
    H, W = size
    c = cam.scaled(W, H)
    images = resize_images(frames.images, size)
    if obs is None:
        obs = observe(images)
    depth = renderer.render(frames.arm_q, [c], frames.gripper_width_m, size).depth[0]
    sil = depth > 0
    if check:
        check_view(c, sil, obs)
    T = sil.shape[0]
    usable = cv2.erode((sil.mean(axis=0) < 0.4).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    pts, idx, off, _ = contour_points(c, depth, usable, max_per_frame=300)
    scale = max(cam.width, cam.height) / max(W, H)
    if pts.shape[0]:
        sdt = np.stack([subpixel_sdt(obs, t, 2, (0, 0, W, H), 20.0) for t in range(T)])
        cs = ContourSet(pts, idx, off, sdt, size, 2, (0, 0, W, H))
        err = float(np.median(np.abs(residuals(c, cs, 20.0)))) * scale
    else:
        err = float("inf")
    majority = sil.mean(axis=0) > 0.5
    ious = []
    for t in range(T):
        pred = sil[t] ^ majority
        union = (pred | obs.masks[t]).sum()
        if union:
            ious.append((pred & obs.masks[t]).sum() / union)
    iou = float(np.median(ious)) if ious else 0.0
    return AlignmentScore(cam.name, err, err * 256.0 / max(cam.width, cam.height), iou, T,
                          int(pts.shape[0]))
