"""A run folder that describes itself: resolved config, versions, git SHA, history of resumes.

``RUN/config.yaml`` holds the resolved ``TrainConfig``; ``RUN/run.json`` the package version,
git commit (and whether the tree was dirty), library versions, command line, data path and
one entry per start/resume. An existing run folder is never silently reused: starting a new run
in a non-empty folder is refused, resuming checks the settings against the saved ones. One
exception: a run that stopped before its first checkpoint holds nothing to resume, so the same
command (same settings) starts it again in its folder (run.json keeps the failed start).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from vap_ros.config import read_config_file
from vap_ros.errors import CheckpointError, ConfigError, OutputError
from vap_ros.train.config import TrainConfig

__all__ = ["git_describe", "prepare_run_dir", "record_start"]

log = logging.getLogger(__name__)

CONFIG = "config.yaml"
RUN_JSON = "run.json"
# What a run folder holds when the trainer alone wrote it.
RUN_ENTRIES = frozenset({CONFIG, RUN_JSON, RUN_JSON + ".tmp", "logs", "samples", "checkpoints",
                         "latent_cache"})


def git_describe(path: Path | None = None) -> dict[str, Any]:
    """Commit SHA and dirty flag of the git checkout holding the vap_ros sources (or None)."""
    root = Path(path or Path(__file__).resolve().parents[2])
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--",
                                "vap_ros"], capture_output=True, text=True, timeout=10,
                               check=True).stdout.strip() != ""
        return {"sha": sha, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"sha": None, "dirty": None}


def _versions() -> dict[str, str]:
    import vap_ros

    out = {"vap_ros": vap_ros.__version__, "python": platform.python_version()}
    for name in ("torch", "diffusers", "accelerate", "peft", "safetensors", "numpy"):
        try:
            out[name] = __import__(name).__version__
        except Exception:  # noqa: BLE001 - version reporting never fails a run
            out[name] = "missing"
    return out


def load_saved_config(out: Path) -> TrainConfig:
    """The resolved config a run folder was started with.

    Raises:
        ConfigError: no config.yaml (not a run folder) or an invalid one.
    """
    saved = Path(out) / CONFIG
    if not saved.is_file():
        raise ConfigError(f"{out} holds no {CONFIG}: not a run folder")
    path = str(saved)
    return TrainConfig.from_dict(read_config_file(saved, "training config"), source=path)


def _checkpoint_dirs(out: Path) -> list[Path]:
    from vap_ros.train.checkpoint import checkpoint_dirs

    return checkpoint_dirs(out)


def _still_running(out: Path) -> int | None:
    """The pid of the newest start of this run when it is alive on this host, else None."""
    try:
        starts = json.loads((out / RUN_JSON).read_text()).get("starts") or []
        last = starts[-1]
        pid, host = int(last["pid"]), last["host"]
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return None
    if host != platform.node() or pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except OSError:  # exists, another user's
        return pid
    return pid


def prepare_run_dir(out: Path, config: TrainConfig | None, resume: bool) -> TrainConfig:
    """Check/create the run folder; returns the config to train with.

    New run: ``out`` must not exist or be empty, or hold a run of the same settings that
    stopped before its first checkpoint (it is started again). Resume: the saved config is
    loaded; ``config`` (if given) may only differ in resumable settings.

    Raises:
        OutputError: ``out`` is a file.
        ConfigError: non-empty folder without ``resume``, nothing to resume, or a settings change
            that would make the resumed run a different run.
        CheckpointError: ``resume`` of a run that stopped before its first checkpoint (the
            message says to start it again without ``--resume``).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"run folder {out} is a file, not a folder", path=out)
    if resume:
        if not (out / CONFIG).is_file():
            raise ConfigError(f"cannot resume: {out} holds no {CONFIG} (not a run folder)")
        saved = load_saved_config(out)
        if not _checkpoint_dirs(out):
            raise CheckpointError(
                f"cannot resume {out}: the run stopped before its first checkpoint "
                f"(checkpoint.every={saved.checkpoint.every}), so there is nothing to resume; "
                "run the same command without --resume to start it again in this folder")
        if config is None:
            return saved
        _check_same_run(out, config, saved, "resume")
        return config
    if config is None:
        raise ConfigError("a new run needs a training config")
    if out.exists() and any(out.iterdir()):
        if not _unfinished_run(out):
            raise ConfigError(f"run folder {out} exists and is not empty; pass --resume to "
                              "continue it or choose another --out (nothing is overwritten)")
        _check_same_run(out, config, load_saved_config(out), "start again")
        pid = _still_running(out)
        if pid is not None:
            raise ConfigError(f"run folder {out} belongs to a run that may still be running "
                              f"(pid {pid} on this host); wait for it or stop it first")
        log.warning("%s holds a run that stopped before its first checkpoint: starting it "
                    "again from step 0", out)
    return config


def _unfinished_run(out: Path) -> bool:
    """A run folder with no checkpoint folder yet, holding only what the trainer writes."""
    return ((out / CONFIG).is_file() and not _checkpoint_dirs(out)
            and all(p.name in RUN_ENTRIES for p in out.iterdir()))


def _check_same_run(out: Path, config: TrainConfig, saved: TrainConfig, action: str) -> None:
    diffs = config.resume_differences(saved)
    if diffs:
        raise ConfigError(f"cannot {action} {out} with different settings: {'; '.join(diffs)} "
                          "(only steps, num_workers, checkpoint.* and log.* may change)")


def record_start(out: Path, config: TrainConfig, *, data: str | None, world_size: int,
                 resumed_from: str | None, start_step: int,
                 dataset: dict[str, Any] | None = None) -> None:
    """Write config.yaml and add a start/resume entry to run.json (main process only).

    ``dataset`` (clip count, prompt source, …) is compared with the first start's: a resume on
    different data is logged as a warning (the data order then differs from the original run).
    """
    out.mkdir(parents=True, exist_ok=True)
    (out / CONFIG).write_text(config.to_yaml())
    path = out / RUN_JSON
    info = json.loads(path.read_text()) if path.is_file() else {}
    info.setdefault("created", _now())
    info.setdefault("git", git_describe())
    info.setdefault("versions", _versions())
    first = info.setdefault("dataset", dataset)
    if resumed_from and dataset is not None and first not in (None, dataset):
        log.warning("resuming on different data than the run started with: %s, was %s "
                    "(the data order will differ from an uninterrupted run)", dataset, first)
    info["data"] = data
    info.setdefault("starts", []).append({
        "time": _now(), "argv": sys.argv, "resumed_from": resumed_from,
        "start_step": start_step, "world_size": world_size, "host": platform.node(),
        "pid": os.getpid(), "data": data, "dataset": dataset, "git": git_describe(),
        "versions": _versions()})
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info, indent=2))
    os.replace(tmp, path)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
