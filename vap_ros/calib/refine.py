"""Refine a static camera's extrinsics (and optionally focal length and principal point, and
the lens's first radial distortion coefficient) from its own images of the moving robot.

Method (coarse to fine, every level the same loop):
1. render the robot's depth at every frame's joint state through the current calibration
   (``prompts.mesh.MeshRenderer``, the URDF meshes), supersampled for the pixel coverage;
2. estimate the static background per pixel as the median over the frames whose rendered
   silhouette leaves the pixel free, and mark what differs from it in each frame (the robot,
   plus whatever else moved), with a sub-pixel half-maximum outline;
3. back-project the rendered silhouette's contour pixels to 3D points on the robot's surface;
   where each sits relative to the outline comes from passing the rendered coverage through
   the same outline pipeline as the images (in the last level with the robot's contrast
   as observed at the nearest fully covered pixel, ``observe.model_difference``: a shaded
   rim or a low-contrast part shrinks the observed outline, and the predicted one must
   shrink with it);
4. move the camera (6-DoF, robust least squares: Cauchy loss, analytic Jacobian) so these
   points project onto the observed outline (signed distance fields, bilinear); in the last
   level, contour points where the background is never seen (static parts of the robot) are
   matched to the strongest colour edge along their normal instead;
5. repeat from 1 until the update is below 0.1 mm / 0.005 deg.
The first level runs at 128 px with the plain temporal median and a wide loss, so it
converges from centimetres and degrees away; the last at up to 640 px. A solution that fits
worse than the start, or moved implausibly far, is refused.

Confidence (``RefineResult.confidence_reason`` names every failed check):
* restarts: the fit is repeated from a few starts 1-5 cm / 1-5 deg around its answer (the
  calibration error the method is for); a restart that comes within 2 mm / 0.1 deg of the
  main fit's path at the same level has joined it and stops there; one that ends elsewhere
  (> 3 mm / 0.15 deg) is a disagreement, and if it fits clearly better (alignment score) it
  replaces the answer;
* consistency over the recording: the frames are split into consecutive blocks and the
  final level is solved without each; an answer that moves by more than 4 mm / 0.15 deg
  depends on one part of the recording (an object the robot moves, a shadow): a bias that
  every frame resample shares and restarts cannot see;
* a bootstrap over frames (spread in mm and degrees) and the refined alignment score;
* the weakest direction: the final level's Gauss-Newton covariance (robust weights, a
  sandwich over blocks of consecutive frames, whose contour points share their errors) along
  the direction it constrains least, mostly the camera swinging about the robot (sliding
  sideways while turning back towards it) or moving along its optical axis. Its 1-sigma must
  stay within ``WEAK_SIGMA_MAX`` of 7 mm / 0.3 deg. On the simulated rig the answers are off
  by a bias that every frame shares (the true camera fits the outlines worse than the
  answer in every trial), which restarts, the bootstrap and the consistency check cannot
  see; it moves the answer along this direction, and far where the images constrain it
  least, so the limit is set on measured errors (docs/calibration.md), not on the 1-sigma
  being the error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

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
from vap_ros.calib.observe import difference_sdt, model_difference, observe, subpixel_sdt
from vap_ros.calib.score import (
    AlignmentScore,
    alignment_score,
    check_frames,
    resize_images,
    work_size,
)
from vap_ros.camera import Camera

__all__ = ["DEFAULT_STAGES", "RefineResult", "Stage", "camera_change", "perturb_camera",
           "refine_camera"]


@dataclass(frozen=True)
class Stage:
    """One resolution level: long image side (px), loss scale and residual cap (px at that
    size), whether the background is estimated with the rendered silhouettes, iterations;
    ``contrast``: in a guided level, predict the rendered outline with the observed robot's
    contrast (``observe.model_difference``) rather than a uniform one (the default stages:
    in the last level only); ``fixed``: correction parameters (``apply_correction``'s
    indices) held at zero in this level."""

    long_side: int
    f_scale: float
    cap: float
    guided: bool
    iterations: int = 6
    factor: int = 2
    supersample: int = 1
    edges: float = 0.0
    loss: str = "cauchy"
    contrast: bool = False
    fixed: tuple[int, ...] = ()


#: The observed contrast (``Stage.contrast``) only in the last level: from farther off (the
#: 320 px level starts a few px away) it made two short recordings of the randomised-camera
#: measurement run away.
DEFAULT_STAGES = (Stage(128, 3.0, 20.0, False, 6, 2, 1), Stage(320, 1.0, 8.0, True, 5, 4, 3),
                  Stage(640, 0.7, 6.0, True, 4, 2, 3, 2.0, contrast=True))

#: Largest shift (px) of a rendered contour point's expected outline by the observed robot's
#: contrast (``observe.model_difference``); beyond it the uniform-contrast offset is kept.
CONTRAST_MAX_SHIFT = 2.0

#: Corrections beyond these (mm, degrees) are refused as runaway solutions: the first level
#: converges from a few centimetres and degrees, not from tens.
MAX_CORRECTION = (250.0, 20.0)

#: Restarts begin this far (cm, deg ranges) from the answer: the calibration error the
#: method is meant for.
RESTART_SPREAD = ((1.0, 5.0), (1.0, 5.0))
#: A restart within this (mm, deg) of the main fit's camera at the end of the same level has
#: joined the main fit's path (it would take the same steps from there) and stops.
JOIN_TOL = (2.0, 0.1)
#: Two final answers further apart than this (mm, deg) disagree.
AGREE_TOL = (3.0, 0.15)
#: A restart whose alignment score is below this fraction of the main fit's replaces it.
BETTER_SCORE = 0.95
#: Consistency over the recording: consecutive blocks of frames, each left out in turn; the
#: answer may move by at most CONSISTENCY_TOL (mm, deg).
PHASES = 3
CONSISTENCY_TOL = (4.0, 0.15)
#: The bootstrap spread (mm, deg) a confident answer stays within.
SPREAD_TOL = (2.0, 0.2)
#: The weakest direction: camera moves are measured in units of WEAK_UNIT (mm, deg), the
#: error a confident answer must not have; the posterior 1-sigma along the least constrained
#: direction may be at most WEAK_SIGMA_MAX of it (0.74 mm / 0.032 deg along a pure move or
#: turn). Chosen on the 20 fixed-camera simulated trials: below the smallest value (0.114)
#: of an answer there > 7 mm or > 0.3 deg off that no other check flags; checked on the
#: randomised-camera trials (docs/calibration.md). WEAK_BLOCK: consecutive frames per
#: block of the sandwich.
WEAK_UNIT = (7.0, 0.3)
WEAK_SIGMA_MAX = 0.105
WEAK_BLOCK = 5


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
        frames: number of frames used; seconds: wall time (restarts included);
            history: per iteration {stage, size, points, step_mm, step_deg} of the fit
            whose answer is returned.
        consistency_mm / consistency_deg: the largest move of the answer when one block of
            consecutive frames is left out (nan: not measured); consistency_block: that
            block, {first, last (frame indices), start_s, end_s (seconds into the
            recording)}.
        restarts: per restart {start_mm, start_deg (from the main fit's answer),
            joined_level (the level in which it came within 2 mm / 0.1 deg of the main fit's
            camera at that level's end and stopped, or None), end_mm, end_deg (from that
            camera, or from the main fit's answer when it ran to the end), iterations,
            score_px256 (when it ran to the end), agrees, used, seconds}.
        restart_used: the answer is a restart's (it fitted clearly better than the main fit).
        weak_sigma: the 1-sigma along the least constrained direction, in units of
            ``WEAK_UNIT`` (nan: not measured, inf: a direction the images do not constrain
            at all); weak_sigma_mm / weak_sigma_deg: that 1-sigma move's optical-centre
            shift and turn; weak_direction: {translation_mm, rotation_deg}: the move
            itself, in the camera's optical frame (x right, y down, z along the optical
            axis; the optical centre's shift and the rotation vector).
        intrinsics / distortion: whether the focal length and principal point / the lens's
            k1 were refined too.
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
    consistency_mm: float = float("nan")
    consistency_deg: float = float("nan")
    consistency_block: dict | None = None
    restarts: list[dict] = field(default_factory=list)
    restart_used: bool = False
    main_score_px256: float | None = None
    weak_sigma: float = float("nan")
    weak_sigma_mm: float = float("nan")
    weak_sigma_deg: float = float("nan")
    weak_direction: dict | None = None
    distortion: bool = False

    @property
    def confidence(self) -> str:
        """``high`` when every check passes: the bootstrap spread is within 2 mm / 0.2 deg,
        leaving out any block of consecutive frames moves the answer by at most
        4 mm / 0.15 deg, every restart ends within 3 mm / 0.15 deg of the answer, the
        1-sigma along the least constrained direction is within ``WEAK_SIGMA_MAX`` of
        7 mm / 0.3 deg, and the refined outline fits (score ok); ``low`` otherwise (see
        ``confidence_reason``), and always when the intrinsics or the lens were refined
        too: the limits were measured on pose-only fits."""
        return "high" if not self.confidence_reason else "low"

    @property
    def confidence_reason(self) -> str:
        why = []
        if not (self.spread_mm <= SPREAD_TOL[0] and self.spread_deg <= SPREAD_TOL[1]):
            why.append(f"the answer varies by {self.spread_mm:.1f} mm / {self.spread_deg:.2f} "
                       "deg between frame subsets")
        if not (self.consistency_mm <= CONSISTENCY_TOL[0]
                and self.consistency_deg <= CONSISTENCY_TOL[1]) and np.isfinite(
                    self.consistency_mm):
            b = self.consistency_block or {}
            why.append(
                f"the answer moves by {self.consistency_mm:.1f} mm / "
                f"{self.consistency_deg:.2f} deg when the frames of "
                f"{b.get('start_s', 0.0):.1f}-{b.get('end_s', 0.0):.1f} s are left out: parts "
                "of the recording disagree (something the robot model does not explain pulls "
                "the fit in some frames: an object the robot moves, a shadow, a person, "
                "joint states off)")
        off = [r for r in self.restarts if not r["agrees"]]
        if off:
            far = max(off, key=lambda r: r["end_mm"])
            text = (f"{len(off)} of {len(self.restarts)} restarts from 1-5 cm / 1-5 deg "
                    f"around the fit's answer ended elsewhere (up to {far['end_mm']:.1f} mm / "
                    f"{far['end_deg']:.2f} deg from it")
            if far.get("score_px256") is not None and self.main_score_px256 is not None:
                text += (f"; outline error there {far['score_px256']:.2f} px at 256 px, the "
                         f"fit's {self.main_score_px256:.2f} px")
            text += ")"
            if self.restart_used and self.score_after is not None:
                text += (f"; the best-fitting restart's answer "
                         f"({self.score_after.error_px256:.2f} px) is used")
            why.append(text)
        if not self.weak_sigma <= WEAK_SIGMA_MAX and not np.isnan(self.weak_sigma):
            why.append(self.weak_text())
        if self.score_after is not None and not self.score_after.ok:
            why.append(f"the refined outline is still {self.score_after.error_px256:.2f} px "
                       "(at 256 px) off")
        if self.intrinsics or self.distortion:
            why.append("the checks' limits were set on fits of the pose alone; with the "
                       + ("lens" if not self.intrinsics else "focal length and principal "
                          "point" if not self.distortion else "intrinsics and lens")
                       + " refined too they let an answer 9.8 mm off through on the "
                       "simulated rig (docs/calibration.md, The lens)")
        return "; ".join(why)

    def weak_text(self) -> str:
        """The weakest direction in words (the reason it fails the confidence)."""
        if not np.isfinite(self.weak_sigma):
            return ("the images do not constrain the camera's pose in some direction (the "
                    "final level's Hessian is singular)")
        where = _direction_words(self.weak_direction)
        return (f"the images barely constrain the camera's {where}: "
                f"+-{self.weak_sigma_mm:.1f} mm / +-{self.weak_sigma_deg:.2f} deg (1 sigma, "
                f"{self.weak_sigma:.2f} of {WEAK_UNIT[0]:.0f} mm / {WEAK_UNIT[1]} deg; at most "
                f"{WEAK_SIGMA_MAX} for a confident answer: beyond it, an outline bias that "
                "every frame shares moved answers 7-17 mm on the simulated rig)")

    def summary(self) -> dict:
        """JSON-able result (the calibration itself goes to the YAML)."""

        def num(v, nd):
            return round(float(v), nd) if v is not None and np.isfinite(v) else None

        return {
            "camera": self.camera.name, "frames": self.frames, "intrinsics": self.intrinsics,
            "distortion": self.distortion,
            "correction_mm": round(self.correction_mm, 3),
            "correction_deg": round(self.correction_deg, 4),
            "spread_mm": num(self.spread_mm, 3), "spread_deg": num(self.spread_deg, 4),
            "consistency_mm": num(self.consistency_mm, 3),
            "consistency_deg": num(self.consistency_deg, 4),
            "consistency_block": self.consistency_block,
            "restarts": self.restarts, "restart_used": self.restart_used,
            "weak_sigma": num(self.weak_sigma, 4), "weak_sigma_mm": num(self.weak_sigma_mm, 3),
            "weak_sigma_deg": num(self.weak_sigma_deg, 4),
            "weak_direction": self.weak_direction,
            "confidence": self.confidence, "confidence_reason": self.confidence_reason,
            "score_before": self.score_before.to_dict() if self.score_before else None,
            "score_after": self.score_after.to_dict() if self.score_after else None,
            "seconds": round(self.seconds, 2), "history": self.history}


_SLIDES = ("sideways slide", "slide up and down", "slide along the optical axis")
_TURNS = ("tilt", "pan", "roll about the optical axis")


def _direction_words(d: dict | None) -> str:
    """A camera move {translation_mm, rotation_deg} (optical frame) in words: its slide,
    its turn, or a swing (both, in comparable parts of ``WEAK_UNIT``)."""
    if not d:
        return "pose in some direction"
    t, r = np.abs(d["translation_mm"]), np.abs(d["rotation_deg"])
    slide, turn = _SLIDES[int(np.argmax(t))], _TURNS[int(np.argmax(r))]
    tn, rn = np.linalg.norm(t) / WEAK_UNIT[0], np.linalg.norm(r) / WEAK_UNIT[1]
    if tn > 3 * rn:
        return slide
    if rn > 3 * tn:
        return turn
    return f"swing about the robot ({slide} with a {turn})"


def camera_change(a: Camera, b: Camera) -> tuple[float, float]:
    """(mm, degrees) between two cameras' poses: optical-centre distance, rotation angle."""
    d = np.linalg.norm(a.T_base_cam[:3, 3] - b.T_base_cam[:3, 3]) * 1e3
    R = a.T_cam_base[:3, :3] @ b.T_cam_base[:3, :3].T
    return float(d), float(np.degrees(Rotation.from_matrix(R).magnitude()))


def perturb_camera(cam: Camera, rng: np.random.Generator, cm=(1.0, 5.0),
                   deg=(1.0, 5.0)) -> Camera:
    """The camera moved by a random direction x U(cm) centimetres and turned about its own
    centre by U(deg) degrees about a random axis."""
    d = rng.normal(size=3)
    d *= rng.uniform(*cm) * 0.01 / np.linalg.norm(d)
    a = rng.normal(size=3)
    a *= np.radians(rng.uniform(*deg)) / np.linalg.norm(a)
    T = cam.T_base_cam.copy()
    T[:3, :3] = Rotation.from_rotvec(a).as_matrix() @ T[:3, :3]
    T[:3, 3] += d
    return replace(cam, T_cam_base=np.linalg.inv(T))


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
                   edges: float = 0.0, max_per_frame: int = 400, contrast: bool = False
                   ) -> tuple[ContourSet, EdgeSet | None, object]:
    """Observation + contour points of one iteration at ``images``' size (cam at that size).

    Only the region around the rendered robot is observed. The observed masks are trusted
    where the background is known; with the plain median only where the rendered robot
    covers the pixel in fewer than 40 % of the frames. With ``edges`` > 0, every contour
    point (static parts of the robot included) is also matched to the strongest colour edge
    within ``edges`` px along its normal. With ``contrast`` (guided levels, with
    ``coverage``), a contour point's expected outline offset is predicted with the observed
    robot's contrast (``observe.model_difference``) where that moves it by at most
    ``CONTRAST_MAX_SHIFT`` px from the uniform-contrast prediction."""
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
        coords = np.stack([idx.astype(np.float64), (uv[:, 1] - y0 + 0.5) * factor - 0.5,
                           (uv[:, 0] - x0 + 0.5) * factor - 0.5])
        model = np.stack([difference_sdt(
            100.0 * coverage[t, y0:y1, x0:x1].astype(np.float32), 1.0, factor, cap)
            for t in range(T)])
        off = -map_coordinates(model, coords, order=1, mode="nearest")
        if contrast and guided:  # with the observed robot's contrast, see model_difference
            model = np.stack([difference_sdt(model_difference(coverage[t, y0:y1, x0:x1],
                                                              obs.diff[t]),
                                             obs.threshold, factor, cap) for t in range(T)])
            off_c = -map_coordinates(model, coords, order=1, mode="nearest")
            # a larger shift means the nearest covered pixel shows no robot (the calibration
            # is still off there), not a contrast effect: keep the uniform-contrast offset
            ok_c = np.abs(off_c - off) <= CONTRAST_MAX_SHIFT
            off = np.where(ok_c, off_c, off)
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
    free = _free(stage, n_params)
    scale = np.array([1e-3] * 3 + [1e-3] * 3 + [1e-3, 0.5, 0.5, 1e-2])[free]
    objs: list[ContourObjective | EdgeObjective] = [
        ContourObjective(cam, cs, stage.cap, n_params)]
    if es is not None and es.points_base.shape[0]:
        objs.append(EdgeObjective(cam, es, stage.cap, n_params))

    def full(x):
        out = np.zeros(n_params)
        out[free] = x
        return out

    def fun(x):
        return np.concatenate([o.residuals(full(x)) for o in objs])

    def jac(x):
        return np.concatenate([o.jacobian(full(x)) for o in objs])[:, free]

    sol = least_squares(fun, np.zeros(free.size), jac=jac, x_scale=scale, loss=stage.loss,
                        f_scale=stage.f_scale, max_nfev=60, method="trf")
    return full(sol.x)


def _free(stage: Stage, n_params: int) -> np.ndarray:
    """Indices of the correction parameters a level estimates."""
    return np.array([i for i in range(n_params) if i not in stage.fixed], np.intp)


@dataclass
class _Fit:
    """One run of the levels: the answer, the last level's contours (for the bootstrap and
    the consistency check), the camera at the end of each level, and whether it stopped on
    joining another fit's path."""

    camera: Camera
    cs: ContourSet | None
    es: EdgeSet | None
    stage: Stage
    history: list[dict]
    ends: list[Camera | None]
    joined: int | None = None


def _fit(frames: CalibrationFrames, renderer, poses, cam: Camera, stages, n_params: int, *,
         images: dict, bar=None, follow: list[Camera | None] | None = None) -> _Fit:
    """Run ``stages`` from ``cam`` (see the module docstring). With ``follow`` (another
    fit's cameras at the end of each level), stop as soon as the camera comes within
    ``JOIN_TOL`` of that level's end in any level but the first (whose wide loss does not
    settle to a point): from there this fit would take the other's steps."""
    cs = es = None
    stage = stages[-1]
    history: list[dict] = []
    ends: list[Camera | None] = [None] * len(stages)
    done: set[tuple[int, int]] = set()
    for si, stage in enumerate(stages):
        size = work_size(cam, stage.long_side)
        if size in done and si < len(stages) - 1:
            continue  # the image is smaller than this level: the next level covers it
        done.add(size)
        if size not in images:
            images[size] = resize_images(frames.images, size)
        for it in range(stage.iterations):
            c = cam.scaled(size[1], size[0])
            depth, cover = render_depth(renderer, poses, cam, size, stage.supersample)
            cs, es, _ = build_contours(c, images[size], depth, guided=stage.guided,
                                       cap=stage.cap, factor=stage.factor, coverage=cover,
                                       edges=stage.edges, contrast=stage.contrast)
            if bar is not None:
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
            target = follow[si] if follow is not None and si > 0 else None
            if target is not None:
                j_mm, j_deg = camera_change(cam, target)
                if j_mm <= JOIN_TOL[0] and j_deg <= JOIN_TOL[1]:
                    ends[si] = cam
                    return _Fit(cam, cs, es, stage, history, ends, joined=si)
            if mm < 0.1 and deg < 0.005 and it > 0:
                break
        ends[si] = cam
        if bar is not None:
            bar.n = sum(s.iterations for s in stages[: si + 1])
            bar.refresh()
    return _Fit(cam, cs, es, stage, history, ends)


def refine_camera(frames: CalibrationFrames, renderer, *, intrinsics: bool = False,
                  distortion: bool = False, stages=DEFAULT_STAGES, bootstrap: int = 12,
                  restarts: int = 2, phases: int = PHASES, progress: bool = True,
                  seed: int = 0) -> RefineResult:
    """Refine ``frames.camera`` from ``frames``' images (see the module docstring).

    Args:
        frames: images + joint states of one static camera (``load_frames``).
        renderer: a ``MeshRenderer`` of the robot.
        intrinsics: also estimate the focal length (one scale) and the principal point.
        distortion: also estimate the lens's first radial distortion coefficient (k1 of the
            camera's OpenCV model; plumb_bob for a camera without distortion); the focal
            length and principal point stay as given unless ``intrinsics``. One
            coefficient: an arm's outlines span too few radii to tell k1 from k2 (on the
            simulated rig a free k2 took k1 from -0.25 to -0.48, with k2 1.1 for 0.05).
        stages: the resolution levels.
        bootstrap: frame resamples for the confidence (0: none, and the confidence is low).
        restarts: fits from starts 1-5 cm / 1-5 deg around the answer, which must agree
            with it (0: none; each costs at most one more fit, usually a fraction of one).
        phases: blocks of consecutive frames for the consistency check (0: none).
        seed: of the bootstrap resamples and the restarts' starts.

    Raises:
        ValueError: a negative ``bootstrap``, ``restarts`` or ``phases``, or ``phases`` 1.
        TooFewMovingFramesError / RobotNotInViewError / CameraMovedError: the images cannot
            say where the camera is (nothing is estimated).
        NotConvergedError: the solution ran away (worse fit than the start, or a correction
            beyond ``MAX_CORRECTION``).
    """
    from tqdm import tqdm

    for name, v in (("bootstrap", bootstrap), ("restarts", restarts), ("phases", phases)):
        if int(v) != v or v < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {v!r}")
    if phases == 1:
        raise ValueError("phases must be 0 (no consistency check) or at least 2, got 1")
    t0 = time.perf_counter()
    check_frames(frames)
    score_before = alignment_score(frames, renderer, check=True)
    cam0 = frames.camera
    n_params = 10 if distortion else 9 if intrinsics else 6
    if distortion and not intrinsics:  # the lens with the focal length and centre as given
        stages = tuple(replace(st, fixed=tuple(sorted(set(st.fixed) | {6, 7, 8})))
                       for st in stages)
    poses = renderer.geometry_poses(frames.arm_q, frames.gripper_width_m)
    images: dict[tuple[int, int], np.ndarray] = {}
    total = sum(s.iterations for s in stages)
    with tqdm(total=total, desc=f"refine {cam0.name}", unit="it", disable=not progress,
              leave=False) as bar:
        main = _fit(frames, renderer, poses, cam0, stages, n_params, images=images, bar=bar)
    cam = main.camera
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
    main_score = score_after
    best, best_score, runs = main, score_after, []
    rng = np.random.default_rng([seed, 1])
    for k in range(restarts):
        t1 = time.perf_counter()
        start = perturb_camera(main.camera, rng, *RESTART_SPREAD)
        with tqdm(total=total, desc=f"restart {k + 1}/{restarts} {cam0.name}", unit="it",
                  disable=not progress, leave=False) as bar:
            f = _fit(frames, renderer, poses, start, stages, n_params, images=images,
                     bar=bar, follow=main.ends)
        s_mm, s_deg = camera_change(start, main.camera)
        joined_at = main.ends[f.joined] if f.joined is not None else None
        e_mm, e_deg = camera_change(f.camera, joined_at or main.camera)
        run = {"start_mm": round(s_mm, 2), "start_deg": round(s_deg, 3),
               "joined_level": f.joined, "end_mm": round(e_mm, 3), "end_deg": round(e_deg, 4),
               "iterations": len(f.history), "score_px256": None, "agrees": True,
               "used": False}
        if f.joined is None:
            run["agrees"] = bool(e_mm <= AGREE_TOL[0] and e_deg <= AGREE_TOL[1])
            sc = alignment_score(frames, renderer, f.camera)
            run["score_px256"] = (round(sc.error_px256, 4) if np.isfinite(sc.error_px256)
                                  else None)
            c_mm, c_deg = camera_change(f.camera, cam0)
            if (np.isfinite(sc.error_px256) and c_mm <= MAX_CORRECTION[0]
                    and c_deg <= MAX_CORRECTION[1]
                    and sc.error_px256 < BETTER_SCORE * best_score.error_px256):
                best, best_score = f, sc
        run["seconds"] = round(time.perf_counter() - t1, 2)
        runs.append((f, run))
    for f, run in runs:
        run["used"] = f is best
    cam, score_after = best.camera, best_score
    mm, deg = camera_change(cam, cam0)
    spread_mm, spread_deg = (_bootstrap(cam, best.cs, best.es, best.stage, n_params, bootstrap,
                                        seed, len(frames)) if best.cs is not None
                             else (np.inf, np.inf))
    cons_mm, cons_deg, block = (_consistency(cam, best.cs, best.es, best.stage, n_params,
                                             phases, len(frames))
                                if best.cs is not None else (np.inf, np.inf, None))
    weak, direction = (_weak_direction(cam, best.cs, best.es, best.stage, n_params)
                       if best.cs is not None else (float("inf"), None))
    weak_mm = weak_deg = float("nan") if np.isnan(weak) else float("inf")
    if direction is not None:
        weak_mm = float(np.linalg.norm(direction["translation_mm"]))
        weak_deg = float(np.linalg.norm(direction["rotation_deg"]))
    block_info = None
    if block is not None:
        t = (frames.stamps_ns - frames.stamps_ns[0]) * 1e-9
        block_info = {"first": int(block[0]), "last": int(block[-1]),
                      "start_s": round(float(t[block[0]]), 2),
                      "end_s": round(float(t[block[-1]]), 2)}
    return RefineResult(cam, cam0, mm, deg, spread_mm, spread_deg, len(frames),
                        time.perf_counter() - t0, best.history, intrinsics, score_before,
                        score_after, cons_mm, cons_deg, block_info, [r for _, r in runs],
                        best is not main, float(main_score.error_px256), weak, weak_mm,
                        weak_deg, direction, distortion)


def _consistency(cam: Camera, cs: ContourSet, es: EdgeSet | None, stage: Stage,
                 n_params: int, n: int, T: int
                 ) -> tuple[float, float, np.ndarray | None]:
    """How far the answer moves when one of ``n`` blocks of consecutive frames is left out
    (the last level solved from its final contours without that block's points): the
    largest move (mm, deg) and the block that caused it. A bias confined to part of the
    recording (an object the robot pushes, a shadow) shows here; resampling frames with
    replacement mixes it into every resample and does not."""
    if n < 2 or T < 2 * n or cs.points_base.shape[0] < 20:
        return float("nan"), float("nan"), None
    H, W = cs.size
    c = cam.scaled(W, H)
    every = np.arange(T)
    ref = apply_correction(c, _solve(c, cs, stage, n_params, es))
    worst: tuple[float, float, np.ndarray | None] = (0.0, 0.0, None)
    for block in np.array_split(every, n):
        keep = np.setdiff1d(every, block)
        sub = cs.subset(keep)
        if sub.points_base.shape[0] < 20:
            continue
        x = _solve(c, sub, stage, n_params, None if es is None else es.subset(keep))
        mm, deg = camera_change(apply_correction(c, x), ref)
        if worst[2] is None or max(mm / CONSISTENCY_TOL[0], deg / CONSISTENCY_TOL[1]) > max(
                worst[0] / CONSISTENCY_TOL[0], worst[1] / CONSISTENCY_TOL[1]):
            worst = (mm, deg, block)
    if worst[2] is None:  # no block left enough points to solve from
        return float("nan"), float("nan"), None
    return worst


#: d rho / d z of scipy's robust losses (z = (r / f_scale)^2): the weight of a residual in
#: the Gauss-Newton step.
_LOSS_WEIGHT = {"linear": lambda z: np.ones_like(z), "cauchy": lambda z: 1.0 / (1.0 + z),
                "soft_l1": lambda z: 1.0 / np.sqrt(1.0 + z),
                "huber": lambda z: np.minimum(1.0, 1.0 / np.sqrt(np.maximum(z, 1e-12))),
                "arctan": lambda z: 1.0 / (1.0 + z * z)}


def _weak_direction(cam: Camera, cs: ContourSet, es: EdgeSet | None, stage: Stage,
                    n_params: int, block: int = WEAK_BLOCK) -> tuple[float, dict | None]:
    """The posterior 1-sigma along the least constrained direction of the last level (solved
    from its final contours), in units of ``WEAK_UNIT``, and that 1-sigma move
    {translation_mm, rotation_deg} (optical frame; see ``RefineResult``).

    Covariance ``H^-1 M H^-1`` with ``H = J^T W J`` (J: residuals' Jacobian, W: the robust
    loss's weights) and ``M`` the sum over blocks of ``block`` consecutive frames of
    ``g g^T``, ``g = J^T W r`` of the block: the points of one outline, and of neighbouring
    frames, share their errors, which ``s^2 H^-1`` (independent residuals) would take for
    thousands of independent measurements. With intrinsics, the pose block of the
    covariance (the focal length and principal point free). ``(nan, None)``: fewer than 20
    points or 2 blocks; ``(inf, None)``: a singular Hessian."""
    T = int(cs.frame.max()) + 1 if cs.frame.size else 0
    if cs.points_base.shape[0] < 20 or T < 2 * block:
        return float("nan"), None
    H_, W_ = cs.size
    c = cam.scaled(W_, H_)
    x = _solve(c, cs, stage, n_params, es)
    objs: list[ContourObjective | EdgeObjective] = [
        ContourObjective(c, cs, stage.cap, n_params)]
    frames = [cs.frame]
    if es is not None and es.points_base.shape[0]:
        objs.append(EdgeObjective(c, es, stage.cap, n_params))
        frames.append(es.frame)
    free = _free(stage, n_params)  # the pose is always free: it comes first
    r = np.concatenate([o.residuals(x) for o in objs])
    J = np.concatenate([o.jacobian(x) for o in objs])[:, free]
    w = _LOSS_WEIGHT.get(stage.loss, _LOSS_WEIGHT["linear"])((r / stage.f_scale) ** 2)
    S = np.ones(free.size)  # parameters in units of WEAK_UNIT (intrinsics as they are)
    S[:3], S[3:6] = np.radians(WEAK_UNIT[1]), WEAK_UNIT[0] * 1e-3
    Ju = J * S
    H = Ju.T @ (w[:, None] * Ju)
    lam = np.linalg.eigvalsh(H)
    if not lam[-1] > 0 or lam[0] <= 1e-10 * lam[-1]:
        return float("inf"), None
    Hi = np.linalg.inv(H)
    blocks = np.concatenate(frames) // block
    g = np.zeros((int(blocks.max()) + 1, free.size))
    np.add.at(g, blocks, (w * r)[:, None] * Ju)
    nb = int(np.count_nonzero(np.any(g != 0, axis=1)))
    if nb < 2:
        return float("nan"), None
    C = (Hi @ (g.T @ g) @ Hi)[:6, :6] * nb / (nb - 1)
    var, V = np.linalg.eigh(C)
    sigma = float(np.sqrt(max(var[-1], 0.0)))
    v = V[:, -1] * sigma * S[:6]
    # the correction's translation t moves the optical centre by -R(w)^T t ~ -t; the sign
    # of an eigenvector is arbitrary: the centre's largest shift component is positive
    if -v[3 + int(np.argmax(np.abs(v[3:6])))] < 0:
        v = -v
    return sigma, {"translation_mm": [round(float(-u) * 1e3, 3) for u in v[3:6]],
                   "rotation_deg": [round(float(np.degrees(u)), 4) for u in v[:3]]}


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
