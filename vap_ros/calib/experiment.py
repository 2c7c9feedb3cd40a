"""The measurements of docs/calibration.md (``vap-ros calibrate experiment sim|real``).

* sim: record episodes of the simulated rig (tasks cycled), perturb each camera's
  calibration by a random 1-5 cm translation of the camera and a random 1-5 deg rotation
  about its centre, refine from the perturbed start, and compare with the true calibration
  (camera position error in mm, orientation error in degrees, and how far the robot's joint
  origins project from where the true calibration puts them, px). The alignment scores of
  the true and the perturbed calibrations are recorded too (does the score tell them apart?).
* real: the real teleop episode as a bag with its published calibration; perturb that the
  same way, refine, and measure how far (px) the refined calibration projects the robot's
  joint origins from where the published one does, over every step of the episode.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy.spatial.transform import Rotation

from vap_ros.calib.errors import RefinementRefused
from vap_ros.calib.frames import CalibrationFrames, calibration_camera, load_frames
from vap_ros.calib.refine import RefineResult, camera_change, perturb_camera, refine_camera
from vap_ros.calib.report import mesh_renderer, outline_sheet
from vap_ros.calib.score import alignment_score
from vap_ros.camera import Camera
from vap_ros.errors import ConfigError

__all__ = ["perturb_camera", "real_experiment", "sim_experiment"]

#: Joint origins compared on the real episode (Franka's 7 joints + the flange and hand).
JOINT_FRAMES = tuple(f"panda_link{i}" for i in range(1, 9)) + ("panda_hand",)


def _stats(values) -> dict:
    a = np.asarray(values, np.float64)
    if not a.size:
        return {"n": 0}
    return {"n": int(a.size), "median": round(float(np.median(a)), 3),
            "mean": round(float(a.mean()), 3), "p90": round(float(np.percentile(a, 90)), 3),
            "max": round(float(a.max()), 3)}


def sim_experiment(out: str | Path, *, trials: int = 20, seed: int = 0, frames: int = 60,
                   randomize_cameras: bool = False, size: int = 256,
                   tasks=("pick_place", "push", "reach", "poke"), progress: bool = True,
                   episodes: Sequence[int] | None = None, cameras: Sequence[str] | None = None,
                   restarts: int = 2, intrinsics: bool = False,
                   distortion: bool = False) -> dict:
    """Refine every camera of ``trials`` simulated episodes from perturbed calibrations.

    ``episodes`` / ``cameras`` restrict the trials to those episode indices / camera names
    (a trial's perturbation depends only on the seed, the episode and the camera, so one
    trial of a full run is reproduced on its own); ``restarts``, ``intrinsics`` and
    ``distortion`` go to ``refine_camera``.

    Raises:
        ConfigError: an episode index or camera name the recorded episodes do not have.
    """
    from tqdm import tqdm

    from vap_ros.sim import SceneConfig, record_episodes

    out = Path(out)
    bags = out / "bags"
    if not (bags / "summary.json").is_file():
        cfg = SceneConfig(width=size, height=size, randomize_cameras=randomize_cameras)
        record_episodes(cfg, bags, episodes=trials, seed=seed, tasks=tasks, progress=progress)
    summary = json.loads((bags / "summary.json").read_text())
    recorded = [json.loads(line) for line in (bags / "episodes.jsonl").read_text().splitlines()]
    jobs = _select(recorded, summary["cameras"], episodes, cameras)
    renderer = mesh_renderer("panda", "collision")  # what the simulated rig renders
    rows = []
    for ep, k, cam_name in tqdm(jobs, desc="refine", unit="camera", disable=not progress):
        bag = bags / Path(ep["path"]).name
        index = _index(ep)
        fr = load_frames(bag, cam_name, frames=frames, robot=renderer.robot)
        truth = fr.camera
        start = perturb_camera(truth, np.random.default_rng([seed, index, k]))
        row = {"episode": index, "task": ep.get("task"), "camera": cam_name,
               "frames": len(fr), "distinct_poses": fr.distinct_poses}
        res = _trial(fr, renderer, start, truth, row, restarts, intrinsics, distortion)
        rows.append(row)
        if res is None:
            continue
        origins = renderer.robot.frame_poses(fr.arm_q, list(JOINT_FRAMES))[..., :3, 3]
        ref = truth.project(origins)
        row["start_px"] = _px(start, origins, ref)
        row["joint_px"] = _px(res.camera, origins, ref)
        if index == 0:
            outline_sheet(fr, renderer, [("perturbed start", start, (255, 60, 60)),
                                         ("refined", res.camera, (60, 255, 60))],
                          out / "overlays" / f"{bag.name}_{cam_name}.png")
    return _finish(out, rows, {"which": "sim", "trials": trials, "seed": seed, "frames": frames,
                               "randomize_cameras": randomize_cameras, "size": size,
                               "restarts": restarts, "intrinsics": intrinsics,
                               "distortion": distortion,
                               "episodes": list(episodes) if episodes else None,
                               "cameras": list(cameras) if cameras else None})


def _index(ep: dict) -> int:
    return int(Path(ep["path"]).name.rsplit("_", 1)[-1])


def _select(recorded: list[dict], names: list[str], episodes, cameras
            ) -> list[tuple[dict, int, str]]:
    """(episode record, camera index, camera name) of every trial to run."""
    if episodes:
        have = {_index(e) for e in recorded}
        missing = sorted(set(int(i) for i in episodes) - have)
        if missing:
            raise ConfigError(f"no recorded episode {missing} (the run has episodes "
                              f"{sorted(have)})")
        recorded = [e for e in recorded if _index(e) in set(int(i) for i in episodes)]
    if cameras:
        unknown = sorted(set(cameras) - set(names))
        if unknown:
            raise ConfigError(f"no camera {unknown} (the run has cameras {names})")
    return [(e, k, c) for e in recorded for k, c in enumerate(names)
            if not cameras or c in cameras]


def real_experiment(out: str | Path, *, trials: int = 20, seed: int = 0, frames: int = 60,
                    episode: str | Path | None = None, progress: bool = True,
                    restarts: int = 2, intrinsics: bool = False, distortion: bool = False,
                    reference: str | Path | None = None) -> dict:
    """Refine the real teleop episode's camera from perturbed published calibrations (with
    ``intrinsics``, its focal length and principal point too, with ``distortion`` also its
    radial distortion: the perturbation is of the extrinsics only).

    Each answer's joint origins are measured against the published calibration's projections
    (``joint_px``) and, with ``reference`` (a calibration YAML of the same camera, for example
    an independent checkerboard calibration), against that one's too (``joint_px_reference``;
    each camera projects with its own intrinsics and distortion)."""
    from tqdm import tqdm

    from vap_ros.calib.episode_bag import episode_to_bag
    from vap_ros.data.panda_dataset import load_panda_episode

    out = Path(out)
    src = Path(episode) if episode else (Path(__file__).resolve().parents[3] / "shared" /
                                         "data" / "real" / "panda_teleop_episode")
    ep = load_panda_episode(src)
    bag = out / "bag"
    if not bag.exists():
        episode_to_bag(src, bag)
    renderer = mesh_renderer("panda", "visual")
    fr = load_frames(bag, ep.camera.name, frames=frames, robot=renderer.robot)
    published = fr.camera
    origins = renderer.robot.frame_poses(ep.joint_positions, list(JOINT_FRAMES))[..., :3, 3]
    ref = published.project(origins)
    other = None
    if reference is not None:
        other = calibration_camera(reference, published.name).project(origins)
    rows = []
    for i in tqdm(range(trials), desc="refine", unit="trial", disable=not progress):
        start = perturb_camera(published, np.random.default_rng([seed, i]))
        row = {"trial": i, "frames": len(fr), "distinct_poses": fr.distinct_poses,
               "start_px": _px(start, origins, ref)}
        res = _trial(fr, renderer, start, published, row, restarts, intrinsics, distortion)
        rows.append(row)
        if res is None:
            continue
        row["joint_px"] = _px(res.camera, origins, ref)
        if other is not None:
            row["joint_px_reference"] = _px(res.camera, origins, other)
        if i == 0:
            outline_sheet(fr, renderer, [("published", published, (60, 160, 255)),
                                         ("perturbed start", start, (255, 60, 60)),
                                         ("refined", res.camera, (60, 255, 60))],
                          out / "overlays" / "trial_0000.png", n=6)
    return _finish(out, rows, {"which": "real", "trials": trials, "seed": seed,
                               "frames": frames, "episode": str(src), "restarts": restarts,
                               "intrinsics": intrinsics, "distortion": distortion,
                               "reference": str(reference) if reference else None,
                               "published_vs_reference_px": (
                                   _px(published, origins, other) if other is not None
                                   else None)})


def _trial(fr: CalibrationFrames, renderer, start: Camera, truth: Camera,
           row: dict, restarts: int = 2, intrinsics: bool = False,
           distortion: bool = False) -> RefineResult | None:
    """One trial: score ``truth`` and the perturbed ``start``, refine from ``start`` and
    measure the result against ``truth``, all into ``row``; None (and ``row["refused"]``)
    when the refinement refuses."""
    row["perturbation_mm"], row["perturbation_deg"] = camera_change(start, truth)
    row["score_true"] = alignment_score(fr, renderer).error_px256
    row["score_perturbed"] = alignment_score(fr, renderer, start).error_px256
    try:
        res = refine_camera(replace(fr, camera=start), renderer, progress=False,
                            restarts=restarts, intrinsics=intrinsics, distortion=distortion)
    except RefinementRefused as err:
        row["refused"] = str(err)
        return None
    row["error_mm"], row["error_deg"] = camera_change(res.camera, truth)
    row["error_cam_mm"], row["error_cam_deg"] = error_in_camera(res.camera, truth)
    if res.intrinsics or res.distortion:  # the lens the answer found
        row["K"] = [round(float(v), 3) for v in res.camera.K[[0, 1, 0, 1], [0, 1, 2, 2]]]
        row["dist"] = [round(float(v), 5) for v in res.camera.dist]
    row.update(spread_mm=res.spread_mm, spread_deg=res.spread_deg,
               consistency_mm=res.consistency_mm, consistency_deg=res.consistency_deg,
               restarts=res.restarts, restart_used=res.restart_used,
               weak_sigma=res.weak_sigma, weak_sigma_mm=res.weak_sigma_mm,
               weak_sigma_deg=res.weak_sigma_deg, weak_direction=res.weak_direction,
               confidence=res.confidence, confidence_reason=res.confidence_reason,
               score_after=(res.score_after.error_px256 if res.score_after is not None
                            else float("nan")),
               seconds=res.seconds)
    return res


def error_in_camera(cam: Camera, truth: Camera) -> tuple[list[float], list[float]]:
    """``cam``'s error in ``truth``'s optical frame (x right, y down, z along the optical
    axis): its optical centre's offset (mm) and its rotation vector (degrees)."""
    R = truth.T_cam_base[:3, :3]
    d = R @ (cam.T_base_cam[:3, 3] - truth.T_base_cam[:3, 3]) * 1e3
    w = Rotation.from_matrix(cam.T_cam_base[:3, :3] @ R.T).as_rotvec()
    return [round(float(v), 3) for v in d], [round(float(v), 4) for v in np.degrees(w)]


def _px(cam: Camera, origins: np.ndarray, ref) -> float:
    """Median distance (px) of the joint origins' projections from the reference ones, over
    the points the reference sees."""
    p = cam.project(origins)
    d = np.linalg.norm(p.uv - ref.uv, axis=-1)[ref.visible]
    return float(np.median(d))


def _finish(out: Path, rows: list[dict], settings: dict) -> dict:
    done = [r for r in rows if "refused" not in r]
    res = {"settings": settings, "rows": rows,
           "error_mm": _stats([r["error_mm"] for r in done]),
           "error_deg": _stats([r["error_deg"] for r in done]),
           "perturbation_mm": _stats([r["perturbation_mm"] for r in rows]),
           "perturbation_deg": _stats([r["perturbation_deg"] for r in rows]),
           "score_true": _stats([r["score_true"] for r in rows]),
           "score_perturbed": _stats([r["score_perturbed"] for r in rows]),
           "score_after": _stats([r["score_after"] for r in done]),
           "seconds": _stats([r["seconds"] for r in done]),
           "refused": len(rows) - len(done)}
    if done and "joint_px" in done[0]:
        res["joint_px"] = _stats([r["joint_px"] for r in done])
        res["start_px"] = _stats([r["start_px"] for r in rows if "start_px" in r])
    if done and "joint_px_reference" in done[0]:
        res["joint_px_reference"] = _stats([r["joint_px_reference"] for r in done])
    high = [r for r in done if r.get("confidence") == "high"]
    res["confidence"] = {
        "high": len(high), "low": len(done) - len(high),
        "max_error_mm_high": round(max((r["error_mm"] for r in high), default=float("nan")), 3),
        "max_error_deg_high": round(max((r["error_deg"] for r in high), default=float("nan")),
                                    4),
        "max_error_mm_low": round(max((r["error_mm"] for r in done if r not in high),
                                      default=float("nan")), 3)}
    true_max = max((r["score_true"] for r in rows), default=float("nan"))
    bad_min = min((r["score_perturbed"] for r in rows), default=float("nan"))
    res["score_separation"] = {"max_true": round(true_max, 3), "min_perturbed": round(bad_min, 3),
                               "separated": bool(true_max < bad_min)}
    res["table"] = _table(res)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(res, indent=1, default=float))
    return res


def _table(res: dict) -> str:
    s = res["settings"]
    ref = "published" if s["which"] == "real" else "true"
    lines = [f"calibration experiment: {s['which']}, {s['trials']} trials, seed {s['seed']}, "
             f"<= {s['frames']} frames" + (f", randomised cameras: {s['randomize_cameras']}"
                                           if "randomize_cameras" in s else ""),
             "| quantity | n | median | p90 | max |", "|---|---|---|---|---|"]
    names = [("perturbation_mm", "start error, mm"), ("perturbation_deg", "start error, deg"),
             ("error_mm", "refined error, mm"), ("error_deg", "refined error, deg"),
             ("start_px", f"start: joint origins vs {ref}, px"),
             ("joint_px", f"refined: joint origins vs {ref}, px"),
             ("joint_px_reference", "refined: joint origins vs the reference, px"),
             ("score_true", "score of the true calibration, px@256"),
             ("score_perturbed", "score of the perturbed one, px@256"),
             ("score_after", "score after refinement, px@256"),
             ("seconds", "runtime per camera, s")]
    for key, label in names:
        st = res.get(key)
        if st and st.get("n"):
            lines.append(f"| {label} | {st['n']} | {st['median']} | {st['p90']} | {st['max']} |")
    conf = res["confidence"]
    high = (f" (largest error {conf['max_error_mm_high']} mm / {conf['max_error_deg_high']} "
            f"deg against the {ref} calibration)" if conf["high"] else "")
    low = f" (largest error {conf['max_error_mm_low']} mm)" if conf["low"] else ""
    lines.append(f"confidence: {conf['high']} high{high}, {conf['low']} LOW{low}")
    if s.get("published_vs_reference_px") is not None:
        lines.append(f"reference {s['reference']}: the published calibration's joint origins "
                     f"lie {s['published_vs_reference_px']:.2f} px (median) from its")
    sep = res["score_separation"]
    lines.append(f"score separation: worst true {sep['max_true']} px < best perturbed "
                 f"{sep['min_perturbed']} px: {sep['separated']}; refused: {res['refused']}")
    return "\n".join(lines)
