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

A build writes into a staging folder beside ``OUT`` (``.OUT.building-*``); ``commit_cache`` then
swaps the new files in and removes only the files of the older cache (``manifest.json`` and the
``<key>.npy`` files of ``shards/NNNN-NNNN/``): anything else in ``OUT`` is left alone. Readers
call ``check_shards`` first: every shard file's size and shape are checked against its header
and the manifest, so a damaged cache is refused up front with the file named.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from vap_ros.errors import CacheError, ConfigError, OutputError
from vap_ros.outputs import check_out_dir

__all__ = ["CACHE_FORMAT", "NpyAppender", "ShardWriter", "check_cache_out", "check_shards",
           "commit_cache", "read_manifest", "staging_dir", "write_manifest"]

CACHE_FORMAT = "vap_ros.clip_cache"
CACHE_VERSION = 1
_HEADER_LEN = 256  # fixed npy header size, room for any row count
_PAGE = 4096  # file-system page: sparse prompt writes skip whole pages of zeros

SHARD_KEYS = (
    "video", "prompts_logged", "prompts_commanded", "actions_logged", "actions_commanded",
    "keypoints_uv_logged", "keypoints_uv_commanded", "ee_poses_logged", "ee_poses_commanded",
    "camera_K", "camera_T_cam_base", "stamps_ns", "image_index", "has_commanded",
)
# key -> (ndim, axis of the views V, axis of the frames F); axis 0 is the clip row N
SHARD_LAYOUT = {
    "video": (6, 1, 2), "prompts_logged": (6, 1, 2), "prompts_commanded": (6, 1, 2),
    "actions_logged": (3, None, 1), "actions_commanded": (3, None, 1),
    "keypoints_uv_logged": (5, 1, 2), "keypoints_uv_commanded": (5, 1, 2),
    "ee_poses_logged": (4, None, 1), "ee_poses_commanded": (4, None, 1),
    "camera_K": (4, 1, None), "camera_T_cam_base": (4, 1, None),
    "stamps_ns": (3, 1, 2), "image_index": (3, 1, 2), "has_commanded": (1, None, None),
}
SHARD_DIR = re.compile(r"^\d{4,}-\d{4,}$")  # <bag:04d>-<n:04d>, what ShardWriter names


class NpyAppender:
    """Append rows of one shape/dtype to a ``.npy`` file; ``close`` writes the row count.

    With ``sparse``, whole file pages of zeros (a prompt's black background) are skipped
    rather than written: the file reads back the same (holes read as zeros) and the kernel
    copies about half the bytes of a skeleton prompt.
    """

    def __init__(self, path: Path, row_shape: tuple[int, ...], dtype, *,
                 sparse: bool = False) -> None:
        self.path = Path(path)
        self.row_shape = tuple(int(s) for s in row_shape)
        self.dtype = np.dtype(dtype)
        self.rows = 0
        self.sparse = sparse
        self._f = self.path.open("wb", buffering=0)
        self._end = self._write_at(0, memoryview(self._header(0)))

    def _header(self, n: int) -> bytes:
        d = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
             "shape": (n, *self.row_shape)}
        text = repr(d).encode("latin1")
        pad = _HEADER_LEN - 10 - len(text) - 1
        if pad < 0:
            raise ConfigError(f"array shape {d['shape']} too long for the npy header")
        return b"\x93NUMPY\x01\x00" + (_HEADER_LEN - 10).to_bytes(2, "little") + text + \
            b" " * pad + b"\n"

    def _write_at(self, offset: int, data: memoryview) -> int:
        """Write all of ``data`` at ``offset``; returns the offset after it."""
        self._f.seek(offset)
        while data.nbytes:
            n = self._f.write(data)
            data = data[n:]
            offset += n
        return offset

    def append(self, row: np.ndarray) -> None:
        row = np.require(np.asarray(row), self.dtype, "C")
        if row.shape != self.row_shape:
            raise ConfigError(f"{self.path.name}: row shape {row.shape} differs from "
                              f"{self.row_shape}")
        data = row.data.cast("B")  # the row's own buffer, as bytes
        start = _HEADER_LEN + self.rows * data.nbytes
        if self.sparse and data.nbytes >= 4 * _PAGE:
            self._write_sparse(start, data)
        else:
            self._end = self._write_at(start, data)
        self.rows += 1

    def _write_sparse(self, start: int, data: memoryview) -> None:
        """Write the runs of file pages that hold a non-zero byte (page-aligned in the file)."""
        head = (-start) % _PAGE  # bytes up to the first page boundary
        n_pages = (data.nbytes - head) // _PAGE
        body = np.frombuffer(data, np.uint8, n_pages * _PAGE, head)
        used = body.view(np.uint64).reshape(n_pages, _PAGE // 8).any(axis=1)
        # runs in byte offsets of data: the unaligned head and tail are always written
        edges = np.flatnonzero(np.diff(np.r_[0, used.view(np.int8), 0]))
        runs = [(0, head)] + [(head + a * _PAGE, head + b * _PAGE)
                              for a, b in edges.reshape(-1, 2).tolist()]
        runs.append((head + n_pages * _PAGE, data.nbytes))
        for a, b in runs:
            if b > a:
                self._end = max(self._end, self._write_at(start + a, data[a:b]))

    def close(self) -> None:
        if self._f.closed:
            return
        try:
            size = _HEADER_LEN + self.rows * self.dtype.itemsize * math.prod(self.row_shape)
            if self._end < size:  # trailing zero pages were skipped: the file still has them
                self._f.truncate(size)
            self._write_at(0, memoryview(self._header(self.rows)))
        finally:
            self._f.close()


class ShardWriter:
    """Writes clips (dicts from ``clips.make_clip``) into shards of ``shard_clips`` clips.

    Returns per clip (shard name, row) from ``add``; ``close`` finishes the open shard.
    With ``background`` the files are written by a thread while the caller computes the next
    clip (at most ``queue`` clips wait; the clip arrays must not change once added); a write
    error is raised by the next ``add`` or by ``close``.
    """

    def __init__(self, root: Path, prefix: str, shard_clips: int, *,
                 background: bool = False, queue: int = 2) -> None:
        self.root = Path(root)
        self.prefix = prefix
        self.shard_clips = shard_clips
        self.n_shards = 0
        self.bytes = 0
        self._files: dict[str, NpyAppender] | None = None
        self._name = ""
        self._rows = 0  # rows of the open shard (counted when a clip is added)
        self._queue: Any = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        if background:
            import queue as queue_mod

            self._queue = queue_mod.Queue(maxsize=max(1, queue))
            self._thread = threading.Thread(target=self._drain, name="shard-writer",
                                            daemon=True)
            self._thread.start()

    def add(self, clip: dict) -> tuple[str, int]:
        self._raise()
        if self._rows == 0:
            self._name = f"{self.prefix}-{self.n_shards:04d}"
            self.n_shards += 1
        name, row = self._name, self._rows
        self._rows += 1
        last = self._rows >= self.shard_clips
        if last:
            self._rows = 0
        self.bytes += sum(_shard_nbytes(k, clip) for k in SHARD_KEYS)
        if self._queue is None:
            self._write(name, clip, last)
        else:
            self._queue.put((name, clip, last))
        return name, row

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self._close_files()
        self._raise()

    # ---------------------------------------------------------------- writing
    def _write(self, name: str, clip: dict, last: bool) -> None:
        video = clip["video"]
        if self._files is None:
            d = self.root / "shards" / name
            d.mkdir(parents=True, exist_ok=True)
            self._files = {}
            for key in SHARD_KEYS:
                arr = _shard_value(key, clip, video)
                self._files[key] = NpyAppender(d / f"{key}.npy", arr.shape, arr.dtype,
                                               sparse=key.startswith("prompts_"))
        for key, f in self._files.items():
            f.append(_shard_value(key, clip, video))
        if last:
            self._close_files()

    def _close_files(self) -> None:
        if self._files is not None:
            files, self._files = self._files, None
            for f in files.values():
                f.close()

    def _drain(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if self._error is not None:
                continue  # keep draining so the producer never blocks
            try:
                self._write(*job)
            except BaseException as err:  # noqa: BLE001 - re-raised in the caller's thread
                self._error = err

    def _raise(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise err


def _shard_nbytes(key: str, clip: dict) -> int:
    v = clip.get(key)
    if v is not None:
        return np.asarray(v).nbytes
    src = "commanded" if key.endswith("_commanded") else "logged"
    base = key[: -len(src) - 1]
    return np.asarray(clip["video"] if base == "prompts" else clip[f"{base}_logged"]).nbytes


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
    try:
        text = json.dumps(manifest, indent=1, default=_json_default)
    except TypeError as err:  # json's own refusal, or _json_default's
        raise CacheError(f"{p}: {err}; expected a manifest of JSON values, numpy numbers and "
                         "arrays, and paths", path=p) from err
    tmp.write_text(text)
    os.replace(tmp, p)
    return p


def _json_default(o):  # json.dumps's hook: TypeError is its protocol for "cannot"
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


# ---------------------------------------------------------------------------- checking
def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, data offset) of a ``.npy`` file, read without mapping it."""
    if not path.is_file():
        raise CacheError(f"shard file {path} is missing (rebuild the cache with "
                         "`vap-ros dataset build --overwrite`)", path=path)
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            return tuple(int(n) for n in shape), dtype, f.tell()
    except (OSError, ValueError) as err:
        raise CacheError(f"shard file {path} is not a readable .npy file ({err}); rebuild the "
                         "cache with `vap-ros dataset build --overwrite`", path=path) from err


def check_shards(root: str | Path, manifest: dict[str, Any]) -> None:
    """Check every shard file the manifest uses: present, its size what its header says, its
    shape consistent with the other files of the shard and with the manifest (rows, views,
    frames).

    Raises:
        CacheError: naming the first bad file and what is wrong with it.
    """
    root = Path(root)
    rows: dict[str, int] = {}
    views: dict[str, int] = {}
    for c in manifest.get("clips", []):
        rows[c["shard"]] = max(rows.get(c["shard"], 0), int(c["row"]) + 1)
        views[c["shard"]] = len(c["cameras"])
    frames = (manifest.get("clip") or {}).get("frames")
    for shard, used in rows.items():
        n_rows = None
        for key in SHARD_KEYS:
            path = root / "shards" / shard / f"{key}.npy"
            shape, dtype, offset = _npy_header(path)
            want = offset + math.prod(shape) * dtype.itemsize
            size = path.stat().st_size
            if size != want:
                raise CacheError(
                    f"shard file {path} is {'truncated' if size < want else 'too long'}: "
                    f"{size} bytes, its header says {want} ({shape} {dtype}); rebuild the cache "
                    "with `vap-ros dataset build --overwrite`", path=path)
            ndim, v_axis, f_axis = SHARD_LAYOUT[key]
            problem = None
            if len(shape) != ndim:
                problem = f"{len(shape)} dimensions, expected {ndim}"
            elif shape[0] < used:
                problem = f"{shape[0]} clips, the manifest uses {used}"
            elif n_rows is not None and shape[0] != n_rows:
                problem = f"{shape[0]} clips, video.npy has {n_rows}"
            elif v_axis is not None and shape[v_axis] != views[shard]:
                problem = f"{shape[v_axis]} views, the manifest lists {views[shard]} cameras"
            elif f_axis is not None and frames is not None and shape[f_axis] != frames:
                problem = f"{shape[f_axis]} frames per clip, the manifest says {frames}"
            if problem:
                raise CacheError(f"shard file {path} has shape {shape}: {problem}", path=path)
            n_rows = shape[0] if n_rows is None else n_rows


# ---------------------------------------------------------------------------- building
def check_cache_out(out: Path, overwrite: bool) -> None:
    """Before any bag is read: ``out`` must be a usable folder, and an existing cache there is
    replaced only with ``overwrite``.

    Raises:
        OutputError: a file, or not creatable/writable. ConfigError: a cache without overwrite.
    """
    out = check_out_dir(out)
    if ((out / "manifest.json").exists() or (out / "shards").exists()) and not overwrite:
        raise ConfigError(f"{str(out)!r} already holds a clip cache; pass --overwrite to "
                          "replace it")


def staging_dir(out: Path) -> Path:
    """A new empty folder beside ``out`` (same file system) to build the cache in."""
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    except OSError as err:
        raise OutputError(f"cannot create a build folder beside {str(out)!r}: {err}",
                          path=out) from err


def _old_cache_files(out: Path) -> list[Path]:
    """The files of the cache in ``out`` (what this tool writes), nothing else."""
    files = [out / name for name in ("manifest.json", "manifest.json.tmp")
             if (out / name).is_file()]
    shards = out / "shards"
    if shards.is_dir():
        for d in sorted(shards.iterdir()):
            if d.is_dir() and not d.is_symlink() and SHARD_DIR.match(d.name):
                files += [d / f"{k}.npy" for k in SHARD_KEYS if (d / f"{k}.npy").is_file()]
    return files


def commit_cache(staged: Path, out: Path) -> None:
    """Swap the cache built in ``staged`` into ``out``: the older cache's files are moved
    aside, the new ones moved in, the manifest last; then the old files are deleted. Other
    files in ``out`` (also under ``shards/``) are kept.

    Raises:
        CacheError: the swap failed; the message says where the old and new files are.
    """
    staged, out = Path(staged), Path(out)
    trash = staged.with_name(staged.name + ".old")
    try:
        trash.mkdir()
        out.mkdir(parents=True, exist_ok=True)
        for f in _old_cache_files(out):
            dest = trash / f.relative_to(out)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(f, dest)
            if f.parent.parent == out / "shards":
                try:
                    f.parent.rmdir()  # only when no foreign file is left in it
                except OSError:
                    pass
        if (staged / "shards").is_dir():
            (out / "shards").mkdir(exist_ok=True)
            for d in sorted((staged / "shards").iterdir()):
                target = out / "shards" / d.name
                if not target.exists():
                    os.replace(d, target)
                    continue
                for f in d.iterdir():
                    os.replace(f, target / f.name)
        os.replace(staged / "manifest.json", out / "manifest.json")
    except OSError as err:
        raise CacheError(f"could not replace the cache in {out}: {err}; the previous cache's "
                         f"files are in {trash}, the new one's in {staged}", path=out) from err
    shutil.rmtree(trash, ignore_errors=True)
    shutil.rmtree(staged, ignore_errors=True)
