"""Refine a static camera's extrinsics (and optionally focal length and principal point) from
its own images of the moving robot.

Method (coarse to fine, every level the same loop):
1. render the robot's depth at every frame's joint state through the current calibration
   (``prompts.mesh.MeshRenderer``, the URDF meshes), supersampled for the pixel coverage;
2. estimate the static background per pixel as the median over the frames whose rendered
   silhouette leaves the pixel free, and mark what differs from it in each frame (the robot,
   plus whatever else moved), with a sub-pixel half-maximum outline;
3. back-project the rendered silhouette's contour pixels to 3D points on the robot's surface;
   where each sits relative to the outline comes from passing the rendered coverage through
   the same outline pipeline as the images;
4. move the camera (6-DoF, robust least squares: Cauchy loss, analytic Jacobian) so these
   points project onto the observed outline (signed distance fields, bilinear); in the last
   level, contour points where the background is never seen (static parts of the robot) are
   matched to the strongest colour edge along their normal instead;
5. repeat from 1 until the update is below 0.1 mm / 0.005 deg.
The first level runs at 128 px with the plain temporal median and a wide loss, so it
converges from centimetres and degrees away; the last at up to 640 px. A bootstrap over
frames at the solution gives the confidence (spread in mm and degrees); a solution that fits
worse than the start, or moved implausibly far, is refused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.ndimage import map_coordinates
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from vap_ros.calib.contours import (
    ContourObjective,
    ContourSet,
    EdgeObjective,
    EdgeSet,
    apply_correction,
    contour_points,
    edge_targets,
    project_points,
)
from vap_ros.calib.errors import NotConvergedError
from vap_ros.calib.frames import CalibrationFrames
from vap_ros.calib.observe import difference_sdt, observe, subpixel_sdt
from vap_ros.calib.score import (
    AlignmentScore,
    alignment_score,
    check_frames,
    resize_images,
    work_size,
)
from vap_ros.camera import Camera

__all__ = ["DEFAULT_STAGES", "RefineResult", "Stage", "camera_change", "refine_camera"]


@dataclass(frozen=True)
class Stage:
    """One resolution level: long image side (px), loss scale and residual cap (px at that
    size), whether the background is estimated with the rendered silhouettes, iterations."""

    long_side: int
    f_scale: float
    cap: float
    guided: bool
    iterations: int = 6
    factor: int = 2
    supersample: int = 1
    edges: float = 0.0
    loss: str = "cauchy"


DEFAULT_STAGES = (Stage(128, 3.0, 20.0, False, 6, 2, 1), Stage(320, 1.0, 8.0, True, 5, 4, 3),
                  Stage(640, 0.7, 6.0, True, 4, 2, 3, 2.0))

#: Corrections beyond these (mm, degrees) are refused as runaway solutions: the first level
#: converges from a few centimetres and degrees, not from tens.
MAX_CORRECTION = (250.0, 20.0)


def render_depth(renderer, poses: np.ndarray, cam: Camera, size: tuple[int, int],
                 supersample: int = 1) -> tuple[np.ndarray, np.ndarray | None]:
    """Depth at the pixel centres of ``size`` (T, H, W) and, when supersampled (odd factor),
    the fraction of each pixel the robot covers."""
    H, W = size
    if supersample <= 1:
        return renderer.render_poses(poses, [cam.scaled(W, H)], size).depth[0], None
    s = int(supersample) | 1
    big = renderer.render_poses(poses, [cam.scaled(W * s, H * s)], (H * s, W * s)).depth[0]
    cover = (big > 0).reshape(-1, H, s, W, s).mean(axis=(2, 4))
    return big[:, s // 2::s, s // 2::s], cover


@dataclass
class RefineResult:
    """Outcome of ``refine_camera``.

    Attributes:
        camera / initial: refined and starting calibration (native size).
        correction_mm / correction_deg: camera position and orientation change.
        spread_mm / spread_deg: bootstrap standard deviation over frame resamples.
        frames: number of frames used; seconds: wall time; history: per iteration
            {stage, size, points, cost, step_mm, step_deg}.
    """

    camera: Camera
    initial: Camera
    correction_mm: float
    correction_deg: float
    spread_mm: float
    spread_deg: float
    frames: int
    seconds: float
    history: list[dict] = field(default_factory=list)
    intrinsics: bool = False
    score_before: AlignmentScore | None = None
    score_after: AlignmentScore | None = None

    @property
    def confidence(self) -> str:
        """``high``: the bootstrap spread is within 2 mm / 0.2 deg and the refined outline
        fits (score ok); ``low`` otherwise (see ``confidence_reason``)."""
        return "high" if not self.confidence_reason else "low"

    @property
    def confidence_reason(self) -> str:
        why = []
        if not (self.spread_mm <= 2.0 and self.spread_deg <= 0.2):
            why.append(f"the answer varies by {self.spread_mm:.1f} mm / {self.spread_deg:.2f} "
                       "deg between frame subsets")
        if self.score_after is not None and not self.score_after.ok:
            why.append(f"the refined outline is still {self.score_after.error_px256:.2f} px "
                       "(at 256 px) off")
        return "; ".join(why)

    def summary(self) -> dict:
        """JSON-able result (the calibration itself goes to the YAML)."""
        return {
            "camera": self.camera.name, "frames": self.frames, "intrinsics": self.intrinsics,
            "correction_mm": round(self.correction_mm, 3),
            "correction_deg": round(self.correction_deg, 4),
            "spread_mm": round(self.spread_mm, 3), "spread_deg": round(self.spread_deg, 4),
            "confidence": self.confidence, "confidence_reason": self.confidence_reason,
            "score_before": self.score_before.to_dict() if self.score_before else None,
            "score_after": self.score_after.to_dict() if self.score_after else None,
            "seconds": round(self.seconds, 2), "history": self.history}


def camera_change(a: Camera, b: Camera) -> tuple[float, float]:
    """(mm, degrees) between two cameras' poses: optical-centre distance, rotation angle."""
    d = np.linalg.norm(a.T_base_cam[:3, 3] - b.T_base_cam[:3, 3]) * 1e3
    R = a.T_cam_base[:3, :3] @ b.T_cam_base[:3, :3].T
    return float(d), float(np.degrees(Rotation.from_matrix(R).magnitude()))


def robot_box(silhouettes: np.ndarray, margin: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the region any frame's silhouette touches, grown by ``margin``."""
    _, H, W = silhouettes.shape
    any_sil = silhouettes.any(axis=0)
    if not any_sil.any():
        return 0, 0, W, H
    ys, xs = np.nonzero(any_sil)
    return (max(0, int(xs.min()) - margin), max(0, int(ys.min()) - margin),
            min(W, int(xs.max()) + margin + 1), min(H, int(ys.max()) + margin + 1))


def build_contours(cam: Camera, images: np.ndarray, depth: np.ndarray, *, guided: bool,
                   cap: float, factor: int = 1, coverage: np.ndarray | None = None,
                   edges: float = 0.0, max_per_frame: int = 400
                   ) -> tuple[ContourSet, EdgeSet | None, object]:
    """Observation + contour points of one iteration at ``images``' size (cam at that size).

    Only the region around the rendered robot is observed. The observed masks are trusted
    where the background is known; with the plain median only where the rendered robot
    covers the pixel in fewer than 40 % of the frames. With ``edges`` > 0, every contour
    point (static parts of the robot included) is also matched to the strongest colour edge
    within ``edges`` px along its normal."""
    sil = depth > 0
    T, H, W = sil.shape
    x0, y0, x1, y1 = box = robot_box(sil, int(np.ceil(cap)) + 8)
    crop, sil_c = images[:, y0:y1, x0:x1], sil[:, y0:y1, x0:x1]
    if guided:
        obs = observe(crop, silhouettes=sil_c, margin_px=max(1, W // 128))
        usable_c = obs.known.copy()
    else:
        obs = observe(crop)
        usable_c = sil_c.mean(axis=0) < 0.4
    k = np.ones((5, 5), np.uint8)
    usable = np.zeros((H, W), bool)
    usable[y0:y1, x0:x1] = cv2.erode(usable_c.astype(np.uint8), k) > 0
    everywhere = np.ones((H, W), bool) if edges > 0 else usable
    pts, idx, off, nrm = contour_points(cam, depth, everywhere, coverage=coverage,
                                        max_per_frame=max_per_frame)
    uv = np.rint(project_points(cam, pts)).astype(int) if pts.shape[0] else np.zeros((0, 2),
                                                                                        int)
    use = usable[np.clip(uv[:, 1], 0, H - 1), np.clip(uv[:, 0], 0, W - 1)]
    whole = (0, 0, x1 - x0, y1 - y0)
    sdt = np.stack([subpixel_sdt(obs, t, factor, whole, cap) for t in range(T)])
    if coverage is not None and pts.shape[0]:
        # where the rendered outline itself lands after the same resampling/thresholding
        model = np.stack([difference_sdt(100.0 * coverage[t, y0:y1, x0:x1].astype(np.float32),
                                         1.0, factor, cap) for t in range(T)])
        coords = np.stack([idx.astype(np.float64), (uv[:, 1] - y0 + 0.5) * factor - 0.5,
                           (uv[:, 0] - x0 + 0.5) * factor - 0.5])
        off = -map_coordinates(model, coords, order=1, mode="nearest")
    cs = ContourSet(pts[use], idx[use], off[use], sdt, (H, W), factor, box)
    es = None
    if edges > 0 and pts.shape[0]:
        uvf = uv.astype(np.float64)
        target, ok = edge_targets(images, idx, uvf, nrm, edges)
        ok &= (np.abs(nrm).sum(axis=1) > 0) & ~use  # where the masks cannot tell
        e_off = off
        if coverage is not None:  # where the same search finds the rendered outline
            rendered = np.repeat((200.0 * coverage)[..., None], 3, axis=-1)
            q_model, ok_m = edge_targets(rendered, idx, uvf, nrm, edges)
            ok &= ok_m
            e_off = np.einsum("ij,ij->i", q_model - uvf, nrm)
        es = EdgeSet(pts[ok], e_off[ok], nrm[ok], target[ok], (H, W), idx[ok])
    return cs, es, obs


def _solve(cam: Camera, cs: ContourSet, stage: Stage, n_params: int,
           es: EdgeSet | None = None) -> np.ndarray:
    scale = np.array([1e-3] * 3 + [1e-3] * 3 + [1e-3, 0.5, 0.5])[:n_params]
    objs: list[ContourObjective | EdgeObjective] = [
        ContourObjective(cam, cs, stage.cap, n_params)]
    if es is not None and es.points_base.shape[0]:
        objs.append(EdgeObjective(cam, es, stage.cap, n_params))

    def fun(x):
        return np.concatenate([o.residuals(x) for o in objs])

    def jac(x):
        return np.concatenate([o.jacobian(x) for o in objs])

    sol = least_squares(fun, np.zeros(n_params), jac=jac, x_scale=scale, loss=stage.loss,
                        f_scale=stage.f_scale, max_nfev=60, method="trf")
    return sol.x


def refine_camera(frames: CalibrationFrames, renderer, *, intrinsics: bool = False,
                  stages=DEFAULT_STAGES, bootstrap: int = 12, progress: bool = True,
                  seed: int = 0) -> RefineResult:
    """Refine ``frames.camera`` from ``frames``' images (see the module docstring).

    Args:
        frames: images + joint states of one static camera (``load_frames``).
        renderer: a ``MeshRenderer`` of the robot.
        intrinsics: also estimate the focal length (one scale) and the principal point.
        stages: the resolution levels.
        bootstrap: frame resamples for the confidence (0: none).

    Raises:
        TooFewMovingFramesError / RobotNotInViewError / CameraMovedError: the images cannot
            say where the camera is (nothing is estimated).
        NotConvergedError: the solution ran away (worse fit than the start, or a correction
            beyond ``MAX_CORRECTION``).
    """
    from tqdm import tqdm

    t0 = time.perf_counter()
    check_frames(frames)
    score_before = alignment_score(frames, renderer, check=True)
    cam0 = frames.camera
    cam = cam0
    n_params = 9 if intrinsics else 6
    poses = renderer.geometry_poses(frames.arm_q, frames.gripper_width_m)
    history: list[dict] = []
    total = sum(s.iterations for s in stages)
    bar = tqdm(total=total, desc=f"refine {cam0.name}", unit="it", disable=not progress,
               leave=False)
    cs = es = None
    stage = stages[-1]
    done: set[tuple[int, int]] = set()
    for si, stage in enumerate(stages):
        size = work_size(cam0, stage.long_side)
        if size in done and si < len(stages) - 1:
            continue  # the image is smaller than this level: the next level covers it
        done.add(size)
        images = resize_images(frames.images, size)
        for it in range(stage.iterations):
            c = cam.scaled(size[1], size[0])
            depth, cover = render_depth(renderer, poses, cam, size, stage.supersample)
            cs, es, _ = build_contours(c, images, depth, guided=stage.guided, cap=stage.cap,
                                       factor=stage.factor, coverage=cover, edges=stage.edges)
            bar.update(1)
            if cs.points_base.shape[0] < 20:
                break
            x = _solve(c, cs, stage, n_params, es)
            if n_params > 6:  # principal point step in native pixels
                x = x.copy()
                x[7] *= cam.width / size[1]
                x[8] *= cam.height / size[0]
            new = apply_correction(cam, x)
            mm, deg = camera_change(new, cam)
            history.append({"stage": si, "size": list(size), "points": int(cs.frame.size),
                            "step_mm": round(mm, 3), "step_deg": round(deg, 4)})
            cam = new
            if mm < 0.1 and deg < 0.005 and it > 0:
                break
        bar.n = sum(s.iterations for s in stages[: si + 1])
        bar.refresh()
    bar.close()
    spread_mm, spread_deg = _bootstrap(cam, cs, es, stage, n_params, bootstrap, seed,
                                       len(frames)) if cs is not None else (np.inf, np.inf)
    mm, deg = camera_change(cam, cam0)
    score_after = alignment_score(frames, renderer, cam)
    worse = not np.isfinite(score_after.error_px256) or (
        score_after.error_px256 > max(score_before.error_px256, score_after.threshold_px256))
    if worse or mm > MAX_CORRECTION[0] or deg > MAX_CORRECTION[1]:
        raise NotConvergedError(
            f"camera {cam0.name!r}: the refinement did not converge (it moved the camera "
            f"{mm:.0f} mm / {deg:.1f} deg and the outline error went from "
            f"{score_before.error_px:.2f} to {score_after.error_px:.2f} px); start closer "
            "(--initial CALIB.yaml) or use a recording where the arm moves more "
            f"({len(frames)} frames were usable)", camera=cam0.name)
    return RefineResult(cam, cam0, mm, deg, spread_mm, spread_deg, len(frames),
                        time.perf_counter() - t0, history, intrinsics, score_before,
                        score_after)


def _bootstrap(cam: Camera, cs: ContourSet, es: EdgeSet | None, stage: Stage, n_params: int,
               n: int, seed: int, T: int) -> tuple[float, float]:
    """Std of the solution over ``n`` resamples of the frames (with replacement), solved from
    the final contours: how much the answer depends on which frames were seen."""
    if n <= 0 or cs.points_base.shape[0] < 20:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    H, W = cs.size
    c = cam.scaled(W, H)
    pos, rot = [], []
    for _ in range(n):
        pick = rng.integers(0, T, T)
        sub = cs.subset(pick)
        if sub.points_base.shape[0] < 20:
            continue
        x = _solve(c, sub, stage, n_params, None if es is None else es.subset(pick))
        mm, deg = camera_change(apply_correction(c, x), c)
        pos.append(mm)
        rot.append(deg)
    if not pos:
        return float("nan"), float("nan")
    return float(np.sqrt(np.mean(np.square(pos)))), float(np.sqrt(np.mean(np.square(rot))))
