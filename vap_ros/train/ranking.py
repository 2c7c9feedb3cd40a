"""Plan ranking measured in the simulator: does the world model order candidate plans as their
real outcomes do?

Per scene (``vap_ros.sim.candidates``): the task's scripted plan and K - 1 perturbed variants;
every candidate runs in the physics from the same initial state. The goal is the *nominal
plan's real outcome*: its camera images at the rollout's end (the goal image per camera) and
its object poses (the success test). It is a goal the scene can reach, given in the model's own
output space (images), and a planner could be handed the same (a picture of the desired end
state). Predicted score = ``vap_ros.serve.ranking``'s score of the predicted final frame; true
score = the same score of the real final frame (both at the model's size, against the same
goal and region). A candidate succeeds when the task's object (reach: the tool) ends within
``tolerance_m`` of where the nominal plan put it.

Per scene: Spearman's rho between predicted and true scores, and the success of the top-ranked
plan, of a random plan (the mean success) and of the best plan by true score (the oracle);
plans tied at the top count as the mean of their successes. By construction the nominal plan's
real final frame is the goal, so the oracle always succeeds; the interesting numbers are rho
and top-1 against random.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vap_ros.errors import ConfigError
from vap_ros.serve.ranking import METRICS, rank_order, rank_plans, rollout_length, score_final
from vap_ros.train import metrics

__all__ = ["RankingSettings", "SceneRanking", "format_ranking", "rank_sim_scene",
           "ranking_experiment", "scene_stats", "write_candidates_png", "write_scatter_png"]


@dataclass
class RankingSettings:
    """Attributes:
        candidates: K plans per scene (the nominal plan + K - 1 variants), K >= 2.
        steps: sampler steps per chunk (None: the model's); seed: sampling seed of every plan.
        settle_s: the rollout runs this long past the longest plan's end.
        tolerance_m: success radius around the goal position.
        metric: the score that ranks ("region" or "psnr", ``vap_ros.serve.ranking``).
    """

    candidates: int = 6
    steps: int | None = None
    seed: int = 0
    settle_s: float = 0.2
    tolerance_m: float = 0.03
    metric: str = "region"

    def check(self) -> None:
        k = self.candidates
        if isinstance(k, bool) or not isinstance(k, int) or k < 2:
            raise ConfigError(f"candidates={k!r}: expected an integer >= 2 (the nominal plan "
                              "and at least one variant)", key="candidates", value=k)
        if self.metric not in METRICS:
            raise ConfigError(f"metric {self.metric!r}: expected one of {list(METRICS)}",
                              key="metric", value=self.metric)


@dataclass
class SceneRanking:
    """One scene's result: the JSON ``entry`` and the pictures' frames (model size):
    ``first``/``goal`` (V, H, W, 3), ``predicted``/``real`` (K, V, H, W, 3)."""

    entry: dict[str, Any]
    cameras: list[str]
    first: np.ndarray
    goal: np.ndarray
    predicted: np.ndarray
    real: np.ndarray


def scene_stats(predicted: Sequence[float] | np.ndarray, true: Sequence[float] | np.ndarray,
                success: Sequence[bool]) -> dict[str, Any]:
    """Spearman's rho (None when a side is constant), and the success of the top-ranked, a
    random and the oracle (best true score) plan; ties at the top average their successes."""
    from scipy.stats import spearmanr

    p, t = np.asarray(predicted, np.float64), np.asarray(true, np.float64)
    ok = np.asarray(success, np.float64)
    rho = None
    if np.ptp(p) > 0 and np.ptp(t) > 0:
        rho = float(spearmanr(p, t).statistic)

    def top(x):
        return float(ok[np.isclose(x, x.max(), rtol=0.0, atol=1e-9)].mean())

    return {"spearman": rho, "top1_success": top(p), "random_success": float(ok.mean()),
            "oracle_success": top(t), "predicted_ties_at_top": int(
                np.isclose(p, p.max(), rtol=0.0, atol=1e-9).sum())}


def rank_sim_scene(model, cfg, robot, sim_seed: int, task: str, settings: RankingSettings,
                   *, index: int = 0, renderer=None, progress: bool = False) -> SceneRanking:
    """Rank K candidate plans of scene (``sim_seed``, ``index``) with ``model`` and measure
    them in the physics (module docstring).

    Raises:
        ConfigError: bad settings or task. PlanningError: the scene's plans cannot be planned.
    """
    from vap_ros.data.clips import resize_frame
    from vap_ros.sim.candidates import candidate_plans, execute_plans, rank_scene, task_success

    settings.check()
    t0 = time.perf_counter()
    scene = rank_scene(cfg, robot, sim_seed, task, index)
    rng = np.random.default_rng([int(sim_seed), int(index), 1])  # the variants' own stream
    cands = candidate_plans(task, scene.layout, robot, rng, settings.candidates, q0=scene.q0,
                            plan_rng_state=scene.plan_rng_state)
    plans = [c.trajectory for c in cands]
    fps = float(model.config.fps)
    L = rollout_length(plans, fps, settings.settle_s)
    first, cameras, outcomes = execute_plans(cfg, scene, plans, end_s=(L - 1) / fps,
                                             robot=robot)
    names = [c.name for c in cameras]
    goal_full = [outcomes[0].images[n] for n in names]
    res = rank_plans(model, [first[n] for n in names], cameras, plans, goal_full,
                     renderer=renderer, frames=L, steps=settings.steps, seed=settings.seed,
                     metric=settings.metric, progress=progress)
    size = res.goal.shape[1:3]
    real = np.stack([np.stack([resize_frame(o.images[n], size) for n in names])
                     for o in outcomes])
    true = {m: [] for m in METRICS}  # type: dict[str, list[float]]
    for k in range(len(plans)):
        for m, v in score_final(real[k], res.goal, res.region).items():
            true[m].append(v)
    plan_rows, succ = [], []
    for k, c in enumerate(cands):
        ok, dist = task_success(task, scene.nominal.info, outcomes[k], outcomes[0],
                                tolerance_m=settings.tolerance_m)
        succ.append(ok)
        plan_rows.append({
            "id": c.id, "nominal": c.nominal, "perturbation": c.perturbation.to_dict(),
            "duration_s": round(int(c.trajectory.stamps_ns[-1]) * 1e-9, 3),
            "predicted_score": round(float(res.scores[settings.metric][k]), 4),
            "true_score": round(float(true[settings.metric][k]), 4),
            "predicted": {m: round(float(res.scores[m][k]), 4) for m in METRICS},
            "true": {m: round(float(true[m][k]), 4) for m in METRICS},
            "success": bool(ok), "goal_distance_m": round(dist, 4)})
    stats = scene_stats(res.scores[settings.metric], true[settings.metric], succ)
    other = [m for m in METRICS if m != settings.metric]
    entry: dict[str, Any] = {
        "sim_seed": int(sim_seed), "index": int(index), "task": task,
        "task_info": scene.nominal.info, "cameras": names, "frames": L,
        "rollout_s": round((L - 1) / fps, 3), "metric": settings.metric,
        "plans": plan_rows,
        "ranking": [cands[i].id for i in res.ranking],
        "true_ranking": [cands[i].id for i in rank_order(true[settings.metric])],
        **stats,
        "spearman_other_metric": {m: scene_stats(res.scores[m], true[m], succ)["spearman"]
                                  for m in other},
        "predict_seconds": round(res.seconds, 2),
        "seconds": round(time.perf_counter() - t0, 2)}
    return SceneRanking(entry, names, res.first_frames, res.goal, res.final_frames, real)


def ranking_experiment(model, cfg, robot, *, scenes: int, task: str, seed: int,
                       settings: RankingSettings, out: str | Path | None = None,
                       label: str = "model", progress: bool = True) -> dict[str, Any]:
    """Rank K candidates in each of ``scenes`` sim scenes (seed ``seed``, indices 0 ..) and
    aggregate. A scene whose plans cannot be planned is skipped and counted (the next index is
    tried, at most ``2 * scenes`` indices in all). Writes ``ranking.json``, ``scatter.png`` and
    ``candidates.png`` (the first scene) under ``out``.

    Raises:
        ConfigError: bad settings, ``scenes`` < 1, or no scene could be ranked.
    """
    from tqdm.auto import tqdm

    from vap_ros.sim.ik import PlanningError

    settings.check()
    if scenes < 1:
        raise ConfigError(f"scenes={scenes}: expected >= 1", key="scenes", value=scenes)
    report: dict[str, Any] = {
        "model": label, "task": task, "seed": int(seed),
        "settings": {**asdict(settings), "steps": settings.steps or model.config.steps},
        "sim": {"width": cfg.width, "height": cfg.height}, "scenes": [], "skipped": []}
    first_scene: SceneRanking | None = None
    bar = tqdm(total=scenes, desc="ranking", unit="scene", disable=not progress)
    index = 0
    while len(report["scenes"]) < scenes and index < 2 * scenes:
        try:
            sr = rank_sim_scene(model, cfg, robot, seed, task, settings, index=index,
                                progress=False)
        except PlanningError as err:
            report["skipped"].append({"index": index, "error": str(err)})
            index += 1
            continue
        report["scenes"].append(sr.entry)
        if first_scene is None:
            first_scene = sr
        bar.update(1)
        bar.set_postfix(rho=_fmt(sr.entry["spearman"]), top1=sr.entry["top1_success"])
        index += 1
    bar.close()
    if first_scene is None:
        raise ConfigError(f"no scene could be ranked: {len(report['skipped'])} skipped"
                          + "".join(f"\n  scene {x['index']}: {x['error']}"
                                    for x in report["skipped"]))
    report["summary"] = _summary(report["scenes"])
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "ranking.json").write_text(json.dumps(report, indent=1))
        write_scatter_png(report["scenes"], out / "scatter.png", title=f"{task}, {label}")
        write_candidates_png(first_scene, out / "candidates.png")
    return report


def _summary(entries: list[dict]) -> dict[str, Any]:
    rhos = [e["spearman"] for e in entries if e["spearman"] is not None]
    other = sorted({m for e in entries for m in e["spearman_other_metric"]})
    return {
        "scenes": len(entries), "candidates": len(entries[0]["plans"]),
        "spearman_mean": metrics.finite_mean(rhos) if rhos else None,
        "spearman_scenes": len(rhos),
        "top1_success": float(np.mean([e["top1_success"] for e in entries])),
        "random_success": float(np.mean([e["random_success"] for e in entries])),
        "oracle_success": float(np.mean([e["oracle_success"] for e in entries])),
        **{f"spearman_mean_{m}": metrics.finite_mean(
            [e["spearman_other_metric"][m] for e in entries
             if e["spearman_other_metric"][m] is not None]) for m in other}}


def _fmt(v, digits: int = 3) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


def format_ranking(entry: dict[str, Any]) -> str:
    """A plain-text table of one scene: plans in predicted order."""
    lines = [f"scene seed {entry['sim_seed']} index {entry['index']}, task {entry['task']}, "
             f"{len(entry['plans'])} candidates, rollout {entry['rollout_s']:.1f} s "
             f"({entry['frames']} frames), score: {entry['metric']} PSNR dB vs goal",
             "rank  id  predicted  true    success  goal dist (m)",
             "----  --  ---------  ------  -------  -------------"]
    by_id = {p["id"]: p for p in entry["plans"]}
    for r, i in enumerate(entry["ranking"]):
        p = by_id[i]
        lines.append(f"{r + 1:<4}  {i:<2}  {p['predicted_score']:<9.2f}  {p['true_score']:<6.2f}"
                     f"  {'yes' if p['success'] else 'no':<7}  {p['goal_distance_m']:.3f}"
                     + ("  (nominal)" if p["nominal"] else ""))
    lines.append(f"spearman {_fmt(entry['spearman'])}, top-1 success "
                 f"{entry['top1_success']:.2f}, random {entry['random_success']:.2f}, oracle "
                 f"{entry['oracle_success']:.2f}")
    return "\n".join(lines)


# --- pictures -------------------------------------------------------------------------------

def _text(img: np.ndarray, text: str, xy: tuple[int, int], color=(0, 0, 0),
          scale: float = 0.4) -> None:
    import cv2

    cv2.putText(img, text, xy, cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)


def write_candidates_png(sr: SceneRanking, path: str | Path, scale: int = 3) -> Path:
    """One scene's candidates, a row each in predicted order: per view the predicted final
    frame and the real final frame, labelled with rank, id, scores and success; the top row
    holds the first frames and the goal."""
    import cv2

    _, V, H, W, _ = sr.predicted.shape
    h, w, gap, label_w = H * scale, W * scale, 4, 210

    def up(img):
        return np.repeat(np.repeat(img, scale, axis=0), scale, axis=1)

    cols = 2 * V
    width = label_w + cols * (w + gap)
    header = np.full((18, width, 3), 255, np.uint8)
    for v, name in enumerate(sr.cameras):
        x = label_w + 2 * v * (w + gap)
        _text(header, f"{name}: predicted", (x + 2, 13))
        _text(header, "real", (x + w + gap + 2, 13))
    rows = [header]
    top = np.full((h + gap, width, 3), 255, np.uint8)
    _text(top, "first frame | goal", (4, 20))
    _text(top, "(goal = nominal plan's", (4, 40))
    _text(top, " real final frame)", (4, 56))
    for v in range(V):
        x = label_w + 2 * v * (w + gap)
        top[:h, x:x + w] = up(sr.first[v])
        top[:h, x + w + gap:x + 2 * w + gap] = up(sr.goal[v])
    rows.append(top)
    by_id = {p["id"]: p for p in sr.entry["plans"]}
    for r, i in enumerate(sr.entry["ranking"]):
        p = by_id[i]
        row = np.full((h + gap, width, 3), 255, np.uint8)
        color = (0, 140, 0) if p["success"] else (200, 0, 0)  # RGB
        _text(row, f"#{r + 1}  plan {i}" + (" (nominal)" if p["nominal"] else ""), (4, 20))
        _text(row, f"predicted {p['predicted_score']:.2f} dB", (4, 40))
        _text(row, f"true {p['true_score']:.2f} dB", (4, 58))
        _text(row, ("success" if p["success"] else "miss") + f" ({p['goal_distance_m']:.3f} m)",
              (4, 76), color)
        for v in range(V):
            x = label_w + 2 * v * (w + gap)
            row[:h, x:x + w] = up(sr.predicted[i][v])
            row[:h, x + w + gap:x + 2 * w + gap] = up(sr.real[i][v])
        rows.append(row)
    img = np.concatenate(rows, axis=0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return path


_PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
            (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def write_scatter_png(entries: list[dict], path: str | Path, title: str = "") -> Path:
    """Predicted against true score of every candidate, one colour per scene; a filled dot is
    a successful plan, a ring a miss."""
    import cv2

    W, H, m = 560, 460, (60, 20, 36, 50)
    img = np.full((H, W, 3), 255, np.uint8)
    xs = [p["true_score"] for e in entries for p in e["plans"]]
    ys = [p["predicted_score"] for e in entries for p in e["plans"]]

    def lim(v):
        lo, hi = min(v), max(v)
        pad = 0.05 * (hi - lo or 1.0)
        return lo - pad, hi + pad

    (x0, x1), (y0, y1) = lim(xs), lim(ys)
    left, right, top, bottom = m[0], W - m[1], m[2], H - m[3]

    def px(x, y):
        return (int(round(left + (right - left) * (x - x0) / (x1 - x0))),
                int(round(bottom - (bottom - top) * (y - y0) / (y1 - y0))))

    cv2.rectangle(img, (left, top), (right, bottom), (0, 0, 0), 1)
    for k in range(5):
        xv, yv = x0 + (x1 - x0) * k / 4, y0 + (y1 - y0) * k / 4
        xx, yy = px(xv, yv)
        _text(img, f"{xv:.3g}", (xx - 12, bottom + 16), scale=0.35)
        _text(img, f"{yv:.3g}", (4, yy + 4), scale=0.35)
    _text(img, "true score (dB, real final frame vs goal)", (left + 80, bottom + 36))
    _text(img, "predicted score (dB)", (4, top - 20))
    _text(img, title, (left + 180, top - 20), (90, 90, 90))
    for s, e in enumerate(entries):
        color = _PALETTE[s % len(_PALETTE)][::-1]
        for p in e["plans"]:
            c = px(p["true_score"], p["predicted_score"])
            cv2.circle(img, c, 5, color, -1 if p["success"] else 2, cv2.LINE_AA)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)
    return path
