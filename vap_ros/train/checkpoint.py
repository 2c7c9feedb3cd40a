"""Training checkpoints: atomic writes, a sha256 manifest, the newest K kept, a ``last`` link.

Layout of ``RUN/checkpoints/<step:06d>/``::

    model/                  WorldModel.save_pretrained (what eval/inference load)
    trainable.safetensors   every trainable parameter, exact (resume restores these)
    training_state.pt       optimizer + lr-scheduler state, step (torch.save, tensors/dicts only)
    rng/rank_<r>.pt         RNG states of process r (torch, cuda, numpy, python)
    trainer_state.json      step, clips seen, world size, loss, time
    manifest.json           sha256 and size of every file above (written last)

A checkpoint is written into ``.tmp-<step>`` and renamed into place only once complete; ``last``
(a symlink) is then repointed atomically. A kill at any moment leaves either the previous or the
new checkpoint complete. ``verify`` re-hashes every file against the manifest, so a truncated or
modified checkpoint raises ``CheckpointError`` and ``latest_valid`` falls back to the previous
one. Only ``torch.load(weights_only=True)`` is used to read state back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from vap_ros.errors import CheckpointError

__all__ = [
    "CHECKPOINTS",
    "capture_rng",
    "checkpoint_dirs",
    "latest_valid",
    "load_state",
    "read_manifest",
    "resolve_model_dir",
    "restore_rng",
    "verify",
    "write_manifest",
]

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
MANIFEST = "manifest.json"
REQUIRED = ("trainable.safetensors", "training_state.pt", "trainer_state.json")


# ---------------------------------------------------------------------------- hashing
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_tree(root: Path) -> None:
    for p in sorted(root.rglob("*")):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())


def write_manifest(ckpt: Path, step: int) -> None:
    """Hash every file under ``ckpt`` into ``manifest.json`` (written last, fsynced)."""
    files = {}
    for p in sorted(ckpt.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            rel = p.relative_to(ckpt).as_posix()
            files[rel] = {"sha256": _sha256(p), "bytes": p.stat().st_size}
    _fsync_tree(ckpt)
    tmp = ckpt / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps({"format": "vap_ros.train/1", "step": step, "files": files},
                              indent=1))
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, ckpt / MANIFEST)


def read_manifest(ckpt: Path) -> dict:
    path = Path(ckpt) / MANIFEST
    if not path.is_file():
        raise CheckpointError(f"checkpoint {ckpt} has no {MANIFEST}: it was not completely "
                              "written (killed while saving?) or is not a vap_ros checkpoint")
    try:
        manifest = json.loads(path.read_text())
        files = manifest["files"]
        int(manifest["step"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"checkpoint {ckpt}: unreadable {MANIFEST} ({err})") from err
    if not isinstance(files, dict):
        raise CheckpointError(f"checkpoint {ckpt}: malformed {MANIFEST}")
    return manifest


def verify(ckpt: str | Path) -> dict:
    """Check every file of a checkpoint against its manifest; returns the manifest.

    Raises:
        CheckpointError: naming the checkpoint and the first missing, truncated or modified file.
    """
    ckpt = Path(ckpt)
    if not ckpt.is_dir():
        raise CheckpointError(f"checkpoint {ckpt} does not exist")
    manifest = read_manifest(ckpt)
    files = manifest["files"]
    for name in REQUIRED:
        if name not in files:
            raise CheckpointError(f"checkpoint {ckpt}: {name} is not in the manifest")
    for rel, info in files.items():
        p = ckpt / rel
        if not p.is_file():
            raise CheckpointError(f"checkpoint {ckpt} is incomplete: {rel} is missing")
        size = p.stat().st_size
        if size != info.get("bytes"):
            raise CheckpointError(f"checkpoint {ckpt} is corrupt: {rel} has {size} bytes, the "
                                  f"manifest says {info.get('bytes')} (truncated?)")
        if _sha256(p) != info.get("sha256"):
            raise CheckpointError(f"checkpoint {ckpt} is corrupt: {rel} does not match its "
                                  "sha256 in the manifest (modified or damaged after saving)")
    return manifest


# ---------------------------------------------------------------------------- discovery
def checkpoint_dirs(run_or_ckpts: str | Path) -> list[Path]:
    """Complete-by-name checkpoint folders (``<step:06d>``), oldest first."""
    root = Path(run_or_ckpts)
    if (root / CHECKPOINTS).is_dir():
        root = root / CHECKPOINTS
    if not root.is_dir():
        return []
    dirs = [p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and p.name.isdigit()]
    return sorted(dirs, key=lambda p: int(p.name))


def latest_valid(run: str | Path) -> Path | None:
    """The newest checkpoint that passes ``verify``; each rejected one is logged with why."""
    for ckpt in reversed(checkpoint_dirs(run)):
        try:
            verify(ckpt)
        except CheckpointError as err:
            log.warning("%s; falling back to the previous checkpoint", err)
            continue
        return ckpt
    return None


def resolve_model_dir(path: str | Path) -> Path:
    """A run folder, a checkpoint folder or a ``save_pretrained`` folder -> the model folder.

    Run folders resolve to their newest valid checkpoint; training checkpoints are verified
    against their manifest first.

    Raises:
        CheckpointError: nothing loadable there, or the checkpoint is corrupt.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint path {path} does not exist")
    if (path / CHECKPOINTS).is_dir():
        ckpt = latest_valid(path)
        if ckpt is None:
            raise CheckpointError(f"run {path} has no complete, uncorrupted checkpoint")
        return ckpt / "model"
    if (path / MANIFEST).is_file() or (path / "trainable.safetensors").exists():
        verify(path)
        return path / "model"
    if path.name == "model" and (path.parent / MANIFEST).is_file():
        verify(path.parent)
    return path


# ---------------------------------------------------------------------------- RNG
def capture_rng() -> dict[str, Any]:
    """Every RNG the training loop touches, as tensors/ints only (loadable with weights_only)."""
    # the global RandomState is an MT19937: get_state() gives its legacy 5-tuple
    np_state = cast("tuple[str, np.ndarray, int, int, float]", np.random.get_state())
    py_state = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"name": np_state[0], "keys": torch.from_numpy(np_state[1].astype(np.int64)),
                  "pos": int(np_state[2]), "has_gauss": int(np_state[3]),
                  "cached_gaussian": float(np_state[4])},
        "python": {"version": py_state[0], "state": list(py_state[1]), "gauss": py_state[2]},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_state(path: Path) -> Any:
    """``torch.load(weights_only=True)`` with a CheckpointError naming the file."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many kinds on damaged files
        raise CheckpointError(f"cannot read {path}: {err}") from err


# ---------------------------------------------------------------------------- writing
def begin(ckpts: Path, step: int) -> Path:
    """A fresh temporary folder for the checkpoint of ``step`` (main process)."""
    tmp = ckpts / f".tmp-{step:06d}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def commit(ckpts: Path, tmp: Path, step: int, keep: int) -> Path:
    """Manifest, rename into place, repoint ``last``, prune to the newest ``keep``."""
    write_manifest(tmp, step)
    final = ckpts / f"{step:06d}"
    if final.exists():  # the same step saved again (e.g. the end step of a resumed run)
        try:
            verify(final)
            shutil.rmtree(tmp)  # keep the complete one already there
        except CheckpointError:
            shutil.rmtree(final)  # a damaged copy: nothing is lost by replacing it
            os.rename(tmp, final)
    else:
        os.rename(tmp, final)
    _fsync_dir(ckpts)
    link_tmp = ckpts / ".last.tmp"
    if link_tmp.is_symlink() or link_tmp.exists():
        link_tmp.unlink()
    os.symlink(final.name, link_tmp)
    os.replace(link_tmp, ckpts / "last")
    _fsync_dir(ckpts)
    for old in checkpoint_dirs(ckpts)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def clean_stale(ckpts: Path) -> None:
    """Remove temporary folders left by a process killed while saving."""
    if not ckpts.is_dir():
        return
    for p in ckpts.iterdir():
        if p.name.startswith(".tmp-") and p.is_dir():
            log.info("removing %s left by an interrupted save", p)
            shutil.rmtree(p, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
