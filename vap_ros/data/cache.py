"""The clip cache on disk: uncompressed ``.npy`` shards (memory-mappable, no pickle) and a
``manifest.json``.

Layout::

    OUT/
      manifest.json                 format, config, robot/skeleton, per-clip index, build report
      shards/<bag:04d>-<n:04d>/     one folder per shard; clips of one bag, views together
        video.npy                   (N, V, F, H, W, 3) uint8 RGB
        prompts_logged.npy          (N, V, F, H, W, 3) uint8 skeleton prompts from joint states
        prompts_commanded.npy       (N, V, F, H, W, 3) uint8 from the plan (zeros where none)
        actions_{logged,commanded}.npy       (N, F, D) float32 arm joints (rad) + gripper (m)
        keypoints_uv_{logged,commanded}.npy  (N, V, F, K, 2) float32 pixels at the clip size
        ee_poses_{logged,commanded}.npy      (N, F, 4, 4) float32 T_base_tcp
        camera_K.npy (N, V, 3, 3), camera_T_cam_base.npy (N, V, 4, 4) float32 (clip size)
        stamps_ns.npy, image_index.npy       (N, V, F) int64 image stamps / index on the topic
        has_commanded.npy                    (N,) bool

Each array is streamed into its file as clips arrive; the header's row count is fixed up when
the shard closes (``np.load(..., mmap_mode="r")`` reads it).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from vap_ros.errors import ConfigError

__all__ = ["CACHE_FORMAT", "NpyAppender", "ShardWriter", "read_manifest", "write_manifest"]

CACHE_FORMAT = "vap_ros.clip_cache"
CACHE_VERSION = 1
_HEADER_LEN = 256  # fixed npy header size, room for any row count

SHARD_KEYS = (
    "video", "prompts_logged", "prompts_commanded", "actions_logged", "actions_commanded",
    "keypoints_uv_logged", "keypoints_uv_commanded", "ee_poses_logged", "ee_poses_commanded",
    "camera_K", "camera_T_cam_base", "stamps_ns", "image_index", "has_commanded",
)


class NpyAppender:
    """Append rows of one shape/dtype to a ``.npy`` file; ``close`` writes the row count."""

    def __init__(self, path: Path, row_shape: tuple[int, ...], dtype) -> None:
        self.path = Path(path)
        self.row_shape = tuple(int(s) for s in row_shape)
        self.dtype = np.dtype(dtype)
        self.rows = 0
        self._f = self.path.open("wb")
        self._f.write(self._header(0))

    def _header(self, n: int) -> bytes:
        d = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
             "shape": (n, *self.row_shape)}
        text = repr(d).encode("latin1")
        pad = _HEADER_LEN - 10 - len(text) - 1
        if pad < 0:
            raise ConfigError(f"array shape {d['shape']} too long for the npy header")
        return b"\x93NUMPY\x01\x00" + (_HEADER_LEN - 10).to_bytes(2, "little") + text + \
            b" " * pad + b"\n"

    def append(self, row: np.ndarray) -> None:
        row = np.require(np.asarray(row), self.dtype, "C")
        if row.shape != self.row_shape:
            raise ConfigError(f"{self.path.name}: row shape {row.shape} differs from "
                              f"{self.row_shape}")
        self._f.write(row.data)
        self.rows += 1

    def close(self) -> None:
        if self._f.closed:
            return
        self._f.seek(0)
        self._f.write(self._header(self.rows))
        self._f.close()


class ShardWriter:
    """Writes clips (dicts from ``clips.make_clip``) into shards of ``shard_clips`` clips.

    Returns per clip (shard name, row) from ``add``; ``close`` finishes the open shard.
    """

    def __init__(self, root: Path, prefix: str, shard_clips: int) -> None:
        self.root = Path(root)
        self.prefix = prefix
        self.shard_clips = shard_clips
        self.n_shards = 0
        self.bytes = 0
        self._files: dict[str, NpyAppender] | None = None
        self._name = ""

    def _open(self, clip: dict) -> None:
        self._name = f"{self.prefix}-{self.n_shards:04d}"
        d = self.root / "shards" / self._name
        d.mkdir(parents=True, exist_ok=True)
        self._files = {}
        video = clip["video"]
        for key in SHARD_KEYS:
            arr = _shard_value(key, clip, video)
            self._files[key] = NpyAppender(d / f"{key}.npy", arr.shape, arr.dtype)
        self.n_shards += 1

    def add(self, clip: dict) -> tuple[str, int]:
        if self._files is None:
            self._open(clip)
        assert self._files is not None
        video = clip["video"]
        row = self._files["video"].rows
        for key, f in self._files.items():
            arr = _shard_value(key, clip, video)
            f.append(arr)
            self.bytes += arr.nbytes
        name = self._name
        if row + 1 >= self.shard_clips:
            self.close()
        return name, row

    def close(self) -> None:
        if self._files is not None:
            for f in self._files.values():
                f.close()
            self._files = None


def _shard_value(key: str, clip: dict, video: np.ndarray) -> np.ndarray:
    v = clip.get(key)
    if v is not None:
        return np.asarray(v)
    src = "commanded" if key.endswith("_commanded") else "logged"
    base = key[: -len(src) - 1]
    like = clip.get(f"{base}_logged")  # the commanded variant is missing: zeros, flagged
    if like is None:
        raise ConfigError(f"clip has no {key}")
    return np.zeros_like(like) if base != "prompts" else np.zeros_like(video)


def write_manifest(out: Path, manifest: dict[str, Any]) -> Path:
    p = Path(out) / "manifest.json"
    tmp = p.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=1, default=_json_default))
    os.replace(tmp, p)
    return p


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def read_manifest(root: str | Path) -> dict[str, Any]:
    """The manifest of a clip cache.

    Raises:
        ConfigError: no manifest, not a clip cache, or a newer format.
    """
    p = Path(root) / "manifest.json"
    if not p.is_file():
        raise ConfigError(f"{str(root)!r} is not a clip cache: no manifest.json "
                          "(build one with `vap-ros dataset build`)")
    try:
        m = json.loads(p.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"{p} is not valid JSON: {err}") from err
    if m.get("format") != CACHE_FORMAT:
        raise ConfigError(f"{p}: format {m.get('format')!r} is not {CACHE_FORMAT!r}")
    if int(m.get("version", 0)) > CACHE_VERSION:
        raise ConfigError(f"{p}: cache version {m['version']} is newer than this vap_ros "
                          f"reads ({CACHE_VERSION})")
    return m


def prepare_out_dir(out: Path, overwrite: bool) -> None:
    """Create ``out``; an existing cache is replaced only with ``overwrite``."""
    out = Path(out)
    if (out / "manifest.json").exists() or (out / "shards").exists():
        if not overwrite:
            raise ConfigError(f"{str(out)!r} already holds a clip cache; pass --overwrite to "
                              "replace it")
        shutil.rmtree(out / "shards", ignore_errors=True)
        (out / "manifest.json").unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
