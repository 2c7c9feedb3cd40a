"""Record simulated episodes as rosbag2 MCAP bags: one scene, one scripted task, one bag each.

Episode ``i`` of a run with seed ``S`` draws everything (layout, cameras, start pose, task
targets) from ``numpy.random.default_rng([S, i])``, and the bag's clock starts at
``EPOCH_NS``: the same (seed, episode) gives the same bag, message by message.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from vap_ros.errors import ConfigError, VapError
from vap_ros.robot import JointTrajectory
from vap_ros.sim.bag import EpisodeBagWriter
from vap_ros.sim.config import SceneConfig
from vap_ros.sim.ik import PlanningError
from vap_ros.sim.rig import SimRig
from vap_ros.sim.tasks import TASKS, home_configuration, plan_task

__all__ = ["EPOCH_NS", "EpisodeResult", "episode_name", "load_plan_json", "record_episode",
           "record_episodes", "record_plan"]

#: Bag clock at the start of every episode (2023-11-14T22:13:20Z): fixed for reproducibility.
EPOCH_NS = 1_700_000_000_000_000_000


def episode_name(index: int) -> str:
    return f"episode_{index:04d}"


@dataclass
class EpisodeResult:
    """What one recorded episode holds."""

    path: str
    task: str
    seed: list[int]
    duration_s: float
    messages: dict[str, int]
    bytes: int
    info: dict = field(default_factory=dict)


def record_episode(rig: SimRig, plan: JointTrajectory, path: str | Path, *,
                   start_ns: int = EPOCH_NS, settle_s: float = 0.3,
                   metadata: dict | None = None,
                   on_step: Callable[[float], None] | None = None) -> dict[str, int]:
    """Run ``plan`` on ``rig`` from its current state and write the bag at ``path``.

    The plan's stamps count from the start of the episode. Joint states are written at
    ``state_hz``, images and camera infos at ``camera_hz``, /tf_static and the plan once at
    the start. The recording lasts the plan plus ``settle_s``.

    Returns:
        messages written per topic.

    Raises:
        TrajectoryError: the plan is invalid (nothing is written).
        ConfigError: ``path`` exists.
    """
    cfg = rig.scene.config
    plan = rig.execute(plan, start_ns=rig.time_ns)  # validates before any file is created
    t_begin = rig.time_ns
    cams = rig.cameras()
    steps_per_state = cfg.physics_hz // cfg.state_hz
    steps_per_frame = cfg.physics_hz // cfg.camera_hz
    total = int(np.ceil((plan.stamps_ns[-1] * 1e-9 + settle_s) * cfg.physics_hz))
    total = int(np.ceil(total / steps_per_frame)) * steps_per_frame
    tf = [(c.base_frame, c.frame_id, c.T_base_cam) for c in cams if c.name != "wrist"]
    if rig.scene.T_hand_wrist is not None:
        tf.append(("panda_hand", "wrist_optical_frame", rig.scene.T_hand_wrist))
    grip = rig.robot.gripper.joints if rig.robot.gripper else ()
    with EpisodeBagWriter(path, rig.scene.camera_names, metadata) as bag:
        bag.write_tf_static(start_ns, tf)
        bag.write_plan(start_ns, plan, grip)
        for k in range(total + 1):
            if k:
                rig.step(1)
            stamp = start_ns + rig.time_ns - t_begin
            if k % steps_per_state == 0:
                js = rig.joint_state()
                bag.write_joint_state(stamp, js.names, js.position, js.velocity, js.effort)
            if k % steps_per_frame == 0:
                images = rig.render()
                for cam in cams:
                    bag.write_image(stamp, cam, images[cam.name])
                if on_step is not None:
                    on_step(k / total)
        return dict(bag.counts)


def _bag_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def record_episodes(cfg: SceneConfig, out_dir: str | Path, *, episodes: int, seed: int,
                    tasks: Sequence[str] = tuple(TASKS), first_index: int = 0,
                    progress: bool = False, retries: int = 3) -> dict:
    """Record ``episodes`` bags into ``out_dir`` (created; existing episodes are an error).

    Episode ``i`` runs task ``tasks[i % len(tasks)]``. A task that cannot be planned in a
    layout (e.g. no graspable object) is redrawn up to ``retries`` times, then skipped and
    counted. Writes ``out_dir/summary.json`` and ``out_dir/episodes.jsonl``.

    Returns:
        the summary (also printed by the CLI).
    """
    for t in tasks:
        if t not in TASKS:
            raise ConfigError(f"unknown task {t!r}; available: {sorted(TASKS)}")
    if episodes < 1:
        raise ConfigError(f"episodes must be >= 1, got {episodes}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clash = [episode_name(i) for i in range(first_index, first_index + episodes)
             if (out / episode_name(i)).exists()]
    if clash:
        raise ConfigError(f"{out} already holds {clash[:3]}…; choose another --out")
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=episodes, unit="ep", desc="sim record", dynamic_ncols=True)
    wall0 = time.perf_counter()
    results: list[EpisodeResult] = []
    skipped: list[dict] = []
    for i in range(first_index, first_index + episodes):
        task = tasks[i % len(tasks)]
        rng = np.random.default_rng([seed, i])
        try:
            res = _record_one(cfg, out, i, seed, task, rng, retries, bar)
            results.append(res)
            with open(out / "episodes.jsonl", "a") as f:
                f.write(json.dumps(asdict(res), sort_keys=True) + "\n")
        except PlanningError as err:
            skipped.append({"episode": i, "task": task, "error": str(err)})
        if bar is not None:
            bar.update(1)
            bar.set_postfix(task=task, skipped=len(skipped))
    if bar is not None:
        bar.close()
    wall = time.perf_counter() - wall0
    sim_s = sum(r.duration_s for r in results)
    per_task: dict[str, int] = {}
    for r in results:
        per_task[r.task] = per_task.get(r.task, 0) + 1
    summary = {
        "out_dir": str(out),
        "episodes_written": len(results),
        "episodes_skipped": len(skipped),
        "skipped": skipped,
        "tasks": per_task,
        "cameras": list(cfg.camera_names),
        "image_size": [cfg.width, cfg.height],
        "randomize_cameras": cfg.randomize_cameras,
        "seed": seed,
        "sim_seconds": round(sim_s, 3),
        "wall_seconds": round(wall, 3),
        "realtime_factor": round(sim_s / wall, 3) if wall > 0 else None,
        "messages": sum(sum(r.messages.values()) for r in results),
        "bytes": sum(r.bytes for r in results),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _record_one(cfg: SceneConfig, out: Path, i: int, seed: int, task: str,
                rng: np.random.Generator, retries: int, bar) -> EpisodeResult:
    from vap_ros.sim.layout import sample_layout
    from vap_ros.sim.scene import build_scene

    last: VapError | None = None
    for _attempt in range(retries + 1):
        layout = sample_layout(cfg, rng)
        q0 = home_configuration(rng)
        try:
            tp = plan_task(task, layout, _robot(cfg), rng, q0)
        except PlanningError as err:
            last = err
            continue
        path = out / episode_name(i)
        meta = {"episode": i, "seed": [seed, i], "task": task, "task_info": tp.info,
                "layout": layout.to_dict(), "q0": q0.tolist()}
        with SimRig(build_scene(cfg, layout, _robot(cfg)), q0=q0) as rig:
            def tick(frac, _bar=bar):
                if _bar is not None:
                    _bar.set_postfix_str(f"{task} {100 * frac:3.0f}%", refresh=False)

            counts = record_episode(rig, tp.trajectory, path, metadata=meta, on_step=tick)
            dur = rig.time_ns * 1e-9
        return EpisodeResult(str(path), task, [seed, i], round(dur, 3), counts,
                             _bag_bytes(path), tp.info)
    raise PlanningError(f"episode {i}: task {task!r} could not be planned in {retries + 1} "
                        f"layouts: {last}")


_ROBOTS: dict = {}


def _robot(cfg: SceneConfig):
    """One RobotModel per preset (URDF parsing is cheap, but FK data is reused)."""
    from vap_ros.robot import RobotModel

    if cfg.robot not in _ROBOTS:
        _ROBOTS[cfg.robot] = RobotModel.from_preset(cfg.robot)
    return _ROBOTS[cfg.robot]


def load_plan_json(path: str | Path) -> JointTrajectory:
    """A plan from JSON: ``{"joint_names": [...], "positions": [[rad, ...], ...],
    "time_from_start_s": [...], "gripper_width_m": [...] (optional)}``.

    Raises:
        ConfigError: the file is missing or malformed (values are checked when recorded).
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"plan file not found: {str(p)!r}")
    try:
        d = json.loads(p.read_text())
        grip = d.get("gripper_width_m")
        return JointTrajectory(
            tuple(d["joint_names"]), np.asarray(d["positions"], np.float64),
            np.round(np.asarray(d["time_from_start_s"], np.float64) * 1e9).astype(np.int64),
            None if grip is None else np.asarray(grip, np.float64))
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ConfigError(f"plan file {str(p)!r} is malformed ({err!r}); expected keys "
                          "joint_names, positions, time_from_start_s[, gripper_width_m]") from err


def record_plan(cfg: SceneConfig, plan: JointTrajectory, out_dir: str | Path, *, seed: int,
                index: int = 0) -> dict:
    """Record a given plan (instead of a scripted task) in the layout of (seed, index), the
    robot starting at ``HOME_Q``. The plan is validated before anything is written.

    Raises:
        TrajectoryError: the plan is invalid.
    """
    from vap_ros.sim.layout import sample_layout
    from vap_ros.sim.scene import build_scene

    out = Path(out_dir)
    rng = np.random.default_rng([seed, index])
    layout = sample_layout(cfg, rng)
    with SimRig(build_scene(cfg, layout, _robot(cfg))) as rig:
        rig.validate(plan)  # fail before creating any folder
        out.mkdir(parents=True, exist_ok=True)
        path = out / episode_name(index)
        meta = {"episode": index, "seed": [seed, index], "task": "plan",
                "layout": layout.to_dict()}
        counts = record_episode(rig, plan, path, metadata=meta)
        dur = rig.time_ns * 1e-9
    return {"out_dir": str(out), "episodes_written": 1, "bag": str(path),
            "sim_seconds": round(dur, 3), "messages": sum(counts.values()),
            "bytes": _bag_bytes(path)}
