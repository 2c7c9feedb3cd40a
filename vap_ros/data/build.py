"""Bags → clip cache: ``build_dataset`` (the library side of ``vap-ros dataset build``).

Per bag: pass 1 (``recording``), clip planning (``sync``), pass 2 + prompts (``clips``), shards
(``cache``). Bags are independent, so ``workers > 1`` processes bags in parallel. A bag that
cannot be used is reported with its error and the build goes on; nothing is dropped without a
count in the report.
"""

from __future__ import annotations

import functools
import os
import shutil
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from vap_ros.data.bag import BagReader, bag_paths
from vap_ros.data.cache import (
    CACHE_FORMAT,
    CACHE_VERSION,
    ShardWriter,
    check_cache_out,
    commit_cache,
    staging_dir,
    write_manifest,
)
from vap_ros.data.clips import clip_size, iter_clips
from vap_ros.data.config import RigConfig, load_rig_config
from vap_ros.data.recording import read_recording
from vap_ros.data.sync import plan_clips
from vap_ros.errors import VapError

__all__ = ["build_dataset", "format_report", "process_bag", "prompt_renderer"]


@functools.lru_cache(maxsize=8)
def prompt_renderer(preset: str, prompt_type: str = "skeleton"):
    """The ``PromptRenderer`` of a robot preset and prompt type, loaded once per process (URDF
    parsing ~0.3 s, meshes for the mesh prompt types)."""
    from vap_ros.prompts import PromptRenderer

    return PromptRenderer.from_preset(preset, prompt_type)


def _stats_ms(gaps_ns: np.ndarray) -> dict[str, float | None]:
    g = np.asarray(gaps_ns, np.float64)
    g = g[np.isfinite(g) & (g < 9e18)]
    if not g.size:
        return {"max": None, "median": None}
    return {"max": round(float(g.max()) * 1e-6, 3), "median": round(float(np.median(g)) * 1e-6, 3)}


def process_bag(path: str | Path, cfg: RigConfig, out: str | Path, prefix: str, *,
                calibration: str | Path | None = None,
                progress: Callable[[int], None] | None = None,
                alignment: bool = True) -> dict[str, Any]:
    """Build the clips of one bag into ``out/shards/<prefix>-*``.

    Returns a report dict: bag, ok, error, warnings, clips (manifest entries), clips_written,
    frames {total, used, subsampled, skipped{reason: n}}, clips_dropped{reason: n},
    messages_skipped{topic: {reason: n}}, cameras{name: {topic, images, used, sync gaps}},
    bytes_read, bytes_written, seconds, and with ``alignment`` the per-camera alignment
    score (``vap_ros.calib.alignment_report``). Never raises for a bad bag (``ok: False``).
    """
    t0 = time.perf_counter()
    path = Path(path)
    report: dict[str, Any] = {"bag": str(path), "ok": False, "error": None, "warnings": [],
                              "clips": [], "clips_written": 0}
    try:
        renderer = prompt_renderer(cfg.robot, cfg.prompt_type)
        with BagReader(path) as reader:
            rec = read_recording(reader, cfg, renderer.robot, calibration=calibration)
            report["warnings"] = rec.warnings
            plan = plan_clips(rec, cfg)
            failures: Counter = Counter()
            # shard files are written by a thread while the next clip is computed
            writer = ShardWriter(Path(out), prefix, cfg.shard_clips, background=True)
            size = clip_size(rec, cfg) if plan.clips.size else None
            used_frames: set[int] = set()
            try:
                for clip in (iter_clips(reader, rec, plan, cfg, renderer, failures)):
                    shard, row = writer.add(clip)
                    st = clip["stamps_ns"]
                    report["clips"].append({
                        "shard": shard, "row": row, "bag": str(path),
                        "cameras": [c.name for c in rec.cameras],
                        "t0_ns": int(st[0, 0]), "t1_ns": int(st[0, -1]),
                        "image_index0": [int(x) for x in clip["image_index"][:, 0]],
                        "has_commanded": bool(clip["has_commanded"])})
                    used_frames.update(plan.clips[clip["plan_index"]].tolist())
                    if progress:
                        progress(cfg.clip.frames)
            finally:
                writer.close()
            report.update(_summary(rec, plan, used_frames, failures, size))
            report["bytes_written"] = writer.bytes
            report["ok"] = True
            if alignment:  # does each camera's calibration put the robot on the robot?
                from vap_ros.calib.report import alignment_report

                report["alignment"] = alignment_report(reader, rec, renderer.robot, cfg.robot)
    except VapError as err:
        report["error"] = f"{type(err).__name__}: {err}"
    report["clips_written"] = len(report["clips"])
    report["seconds"] = round(time.perf_counter() - t0, 3)
    try:
        report["bag_bytes"] = _bag_bytes(path)
    except OSError:
        report["bag_bytes"] = 0
    return report


def _summary(rec, plan, used_frames: set[int], failures: Counter, size) -> dict[str, Any]:
    used = np.zeros(plan.frame_ok.size, bool)
    used[list(used_frames)] = True
    skipped = Counter(plan.skipped)
    planned = np.zeros(plan.frame_ok.size, bool)
    if plan.clips.size:
        planned[plan.clips.reshape(-1)] = True
    lost = int((planned & ~used).sum())
    if lost:
        reason = failures.most_common(1)[0][0] if failures else "clip not written"
        skipped[f"in a dropped clip: {reason}"] += lost
    cams = {}
    for v, cam in enumerate(rec.cameras):
        sel = used
        cams[cam.name] = {
            "topic": cam.topic, "type": cam.msgtype.rsplit("/", 1)[-1],
            "images": int(cam.stamps_ns.size),
            "used": int(np.unique(plan.frame_index[sel, v]).size) if sel.any() else 0,
            "size": [cam.camera.width, cam.camera.height],
            "camera_gap_ms": _stats_ms(plan.camera_gap_ns[sel, v]) if v else None,
            "joint_gap_ms": _stats_ms(plan.joint_gap_ns[sel, v]),
        }
    total = int(rec.cameras[0].stamps_ns.size)
    return {
        "frames": {"reference_camera": rec.cameras[0].name, "total": total,
                   "used": int(used.sum()), "subsampled_to_fps": plan.subsampled,
                   "skipped": dict(skipped)},
        "clips_dropped": dict(failures),
        "messages_skipped": {t: dict(c) for t, c in rec.messages_skipped.items()},
        "cameras": cams,
        "joint_states": {"topic": rec.joint_topic, "count": len(rec.logged)},
        "plans": {"topic": rec.plan_topic, "count": len(rec.plans)},
        "clip_size": None if size is None else list(size),
    }


def _bag_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _worker(job):
    path, cfg_dict, out, prefix, calibration, alignment = job
    return process_bag(path, RigConfig.from_dict(cfg_dict), out, prefix, calibration=calibration,
                       alignment=alignment)


def build_dataset(bags: Sequence[str | Path], out: str | Path, config=None, *,
                  workers: int = 1, calibration: str | Path | None = None,
                  overwrite: bool = False, progress: bool = True,
                  alignment: bool = True) -> dict[str, Any]:
    """Build a clip cache from bags.

    The cache is built in a folder beside ``out`` and swapped in only when at least one clip
    was written; an older cache in ``out`` is then replaced (its files only: anything else in
    ``out`` is kept). A build that writes no clip leaves ``out`` as it was.

    Args:
        bags: bag folders/files, or folders of bags.
        out: output folder (an existing cache is replaced only with ``overwrite``).
        config: rig config (preset name, YAML path, mapping or ``RigConfig``; default ``sim``).
        workers: processes (bags are processed in parallel).
        calibration: calibration YAML overriding the bags' camera_info/TF.
        alignment: score every camera's calibration against its images (report field
            ``alignment``; misaligned cameras are named with ``vap-ros calibrate refine``).

    Returns:
        The manifest dict (also written to ``out/manifest.json`` when clips were written);
        ``manifest["report"]`` holds the per-bag reports and totals.

    Raises:
        ConfigError / BagError: bad config, no bags, existing cache without ``overwrite``.
        OutputError: ``out`` is a file or cannot be created (before any bag is read).
        CacheError: the new cache could not be swapped in (both are kept, the message says
            where).
    """
    cfg = load_rig_config(config)
    if calibration:
        cfg = replace(cfg, calibration=str(Path(calibration).resolve()))
    paths = bag_paths(bags)
    out = Path(os.path.abspath(out))  # "." and "a/.." have a name and a parent to build beside
    check_cache_out(out, overwrite)
    staged = staging_dir(out)
    try:
        manifest = _build(paths, cfg, staged, workers, progress, alignment)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    if manifest["report"]["totals"]["clips_written"]:
        commit_cache(staged, out)
    else:  # every bag failed (or gave no clip): the old cache, if any, stays as it was
        shutil.rmtree(staged, ignore_errors=True)
    return manifest


def _build(paths: list[Path], cfg: RigConfig, out: Path, workers: int,
           progress: bool, alignment: bool) -> dict[str, Any]:
    """Process every bag into ``out`` and write its manifest; returns the manifest."""
    from tqdm import tqdm

    t0 = time.perf_counter()
    reports: list[dict] = []
    if workers <= 1 or len(paths) == 1:
        bar = tqdm(total=len(paths), desc="bags", unit="bag", disable=not progress)
        fbar = tqdm(desc="clip frames", unit="frame", disable=not progress, leave=False)
        for b, p in enumerate(paths):
            reports.append(process_bag(p, cfg, out, f"{b:04d}", progress=fbar.update,
                                       alignment=alignment))
            bar.update(1)
        fbar.close()
        bar.close()
    else:
        import multiprocessing as mp

        jobs = [(str(p), cfg.to_dict(), str(out), f"{b:04d}", None, alignment)
                for b, p in enumerate(paths)]
        ctx = mp.get_context("spawn")
        with ctx.Pool(min(workers, len(paths))) as pool:
            for r in tqdm(pool.imap(_worker, jobs), total=len(jobs), desc="bags", unit="bag",
                          disable=not progress):
                reports.append(r)
    seconds = time.perf_counter() - t0
    clips = [c for r in reports for c in r.pop("clips")]
    robot_and_skeleton = _robot_info(cfg)
    totals = {
        "bags": len(reports), "bags_failed": sum(not r["ok"] for r in reports),
        "clips_written": len(clips),
        "frames_used": sum(r.get("frames", {}).get("used", 0) for r in reports),
        "frames_total": sum(r.get("frames", {}).get("total", 0) for r in reports),
        "seconds": round(seconds, 3),
        "bag_bytes": sum(r.get("bag_bytes", 0) for r in reports),
    }
    manifest = {
        "format": CACHE_FORMAT, "version": CACHE_VERSION, "config": cfg.to_dict(),
        **robot_and_skeleton,
        "clip": {"frames": cfg.clip.frames, "fps": cfg.clip.fps, "stride": cfg.clip.stride},
        "prompt_source": cfg.prompt_source,
        "prompt_type": cfg.prompt_type,
        "clips": clips,
        "report": {"totals": totals, "bags": reports},
    }
    write_manifest(out, manifest)
    return manifest


def _robot_info(cfg: RigConfig) -> dict[str, Any]:
    from vap_ros.robot import RobotModel, SkeletonSpec

    robot = RobotModel.from_preset(cfg.robot)
    spec = SkeletonSpec.from_preset(cfg.robot)
    return {"robot": {"preset": cfg.robot, "arm_joints": list(robot.arm_joint_names),
                      "gripper_joints": list(robot.gripper.joints) if robot.gripper else [],
                      "base_frame": robot.base_frame, "tcp_frame": robot.tcp_frame,
                      "action_dim": robot.n_arm + 1},
            "skeleton": {"keypoints": list(spec.names),
                         "gripper_keypoints": [int(i) for i in spec.gripper]}}


def format_report(manifest: dict[str, Any]) -> str:
    """A human-readable build report."""
    from vap_ros.calib.report import format_alignment

    rep = manifest["report"]
    t = rep["totals"]
    lines = []
    for r in rep["bags"]:
        lines.append(f"bag {r['bag']}")
        if not r["ok"]:
            lines.append(f"  FAILED: {r['error']}")
            continue
        f = r["frames"]
        lines.append(f"  clips written {r['clips_written']}; frames used {f['used']} of "
                     f"{f['total']} ({f['reference_camera']} images; {f['subsampled_to_fps']} "
                     f"subsampled to {manifest['clip']['fps']:g} fps)")
        for reason, n in sorted(f["skipped"].items(), key=lambda x: -x[1]):
            lines.append(f"  skipped {n:6d} frames: {reason}")
        for reason, n in r["clips_dropped"].items():
            lines.append(f"  dropped {n:6d} clips: {reason}")
        for topic, reasons in r["messages_skipped"].items():
            for reason, n in reasons.items():
                lines.append(f"  skipped {n:6d} messages on {topic}: {reason}")
        for name, c in r["cameras"].items():
            cg = c["camera_gap_ms"]
            jg = c["joint_gap_ms"]
            sync = (f"; gap to reference max {cg['max']} / median {cg['median']} ms"
                    if cg and cg["max"] is not None else "")
            lines.append(f"  camera {name} ({c['topic']}, {c['type']} {c['size'][0]}x"
                         f"{c['size'][1]}): {c['images']} images, {c['used']} used; joint-state "
                         f"gap max {jg['max']} / median {jg['median']} ms{sync}")
        lines += format_alignment(r.get("alignment"), r["bag"])
        for w in r["warnings"]:
            lines.append(f"  warning: {w}")
    lines.append(f"total: {t['clips_written']} clips, {t['frames_used']} of {t['frames_total']} "
                 f"frames used, {t['bags_failed']} of {t['bags']} bags failed, "
                 f"{t['seconds']:.1f} s")
    return "\n".join(lines)
