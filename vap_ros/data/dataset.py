"""A torch ``Dataset`` over a clip cache, and its collate function.

Item layout (the world model's input contract)::

    video             float32 (V, 3, F, H, W) in [-1, 1]; frame 0 is the conditioning frame
    prompts           float32 (V, 3, F, H, W) in [-1, 1]; prompts of ``source``, of the
                      cache's ``prompt_type`` (skeleton, depth, silhouette, skeleton+depth)
    actions           float32 (F, D): arm joint positions (rad) + gripper width (m), D = n_arm+1
    keypoints_uv      float32 (V, F, K, 2) skeleton keypoints in clip pixels (``gripper_keypoints``
                      in the manifest's skeleton block locate the gripper)
    ee_poses          float32 (F, 4, 4) T_base_tcp
    camera_K          float32 (V, 3, 3) at the clip size
    camera_T_cam_base float32 (V, 4, 4)
    meta              dict: bag, cameras, stamps_ns (V, F) list, image_index0, source,
                      prompt_type, index

``collate_clips`` stacks items to (B, V, 3, F, H, W) etc. and keeps ``meta`` as a list.
``ClipDataset.raw(i)`` gives the stored uint8 arrays (for evaluation, bit-exact).
Memory maps are opened lazily per process, so DataLoader workers share the page cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from vap_ros.data.cache import SHARD_KEYS, check_shards, read_manifest
from vap_ros.errors import CacheError, ConfigError

__all__ = ["ClipDataset", "collate_clips"]

_SOURCES = ("logged", "commanded")


class ClipDataset(torch.utils.data.Dataset):
    """Clips of a cache built by ``build_dataset``.

    Args:
        root: the cache folder (with manifest.json).
        source: prompt/action variant, ``"logged"`` or ``"commanded"``; default: the
            manifest's ``prompt_source``. Clips without that variant are left out (counted in
            ``excluded``). ``prompt_type`` is the manifest's (a model refuses another type).
        per_view: serve every view of every clip as its own single-view item (V = 1): index
            ``i`` is view ``i % V`` of clip ``i // V``. Trains a shared-weight model on V times
            as many (cheaper) samples; multi-view clips otherwise keep their views together.

    Raises:
        ConfigError: no clip cache at ``root`` or a bad ``source``.
        CacheError: a shard file is missing, truncated or of the wrong shape (checked here,
            before any training or evaluation starts).
    """

    def __init__(self, root: str | Path, source: str | None = None, per_view: bool = False):
        self.root = Path(root)
        self.manifest = read_manifest(self.root)
        self.source = source or self.manifest.get("prompt_source", "logged")
        # caches built before prompt types existed hold skeleton prompts
        self.prompt_type: str = self.manifest.get("prompt_type", "skeleton")
        if self.source not in _SOURCES:
            raise ConfigError(f"source must be one of {_SOURCES}, got {self.source!r}")
        check_shards(self.root, self.manifest)
        clips = self.manifest["clips"]
        if self.source == "commanded":
            self.clips = [c for c in clips if c.get("has_commanded")]
        else:
            self.clips = list(clips)
        self.excluded = len(clips) - len(self.clips)
        self.gripper_keypoints = list(self.manifest.get("skeleton", {}).get(
            "gripper_keypoints", []))
        self._maps: dict[tuple[str, str], np.ndarray] = {}
        self.per_view = bool(per_view)
        self.num_views = len(self.clips[0]["cameras"]) if self.clips else 0

    def __len__(self) -> int:
        return len(self.clips) * (self.num_views if self.per_view else 1)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_maps"] = {}  # memory maps reopen in each worker
        return state

    def _array(self, shard: str, key: str) -> np.ndarray:
        m = self._maps.get((shard, key))
        if m is None:
            p = self.root / "shards" / shard / f"{key}.npy"
            if not p.is_file():
                raise CacheError(f"clip cache {self.root}: shard file {p} is missing", path=p)
            try:
                m = np.load(p, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as err:  # changed on disk after the check
                raise CacheError(f"clip cache {self.root}: cannot map {p}: {err}",
                                 path=p) from err
            self._maps[(shard, key)] = m
        return m

    def raw(self, i: int) -> dict[str, Any]:
        """Clip i as stored: video / prompts_logged / prompts_commanded (V, F, H, W, 3) uint8,
        and the other arrays of the shard (numpy, copied out of the memory map)."""
        c = self.clips[i]
        out: dict[str, Any] = {k: np.array(self._array(c["shard"], k)[c["row"]])
                               for k in SHARD_KEYS}
        out["meta"] = dict(c)
        return out

    def __getitem__(self, i: int) -> dict[str, Any]:
        if self.per_view:
            clip, view = divmod(int(i), self.num_views)
            item = self._item(clip)
            for k in ("video", "prompts", "keypoints_uv", "camera_K", "camera_T_cam_base"):
                item[k] = item[k][view:view + 1]
            item["meta"]["cameras"] = item["meta"]["cameras"][view:view + 1]
            item["meta"]["view"] = view
            return item
        return self._item(i)

    def _item(self, i: int) -> dict[str, Any]:
        c = self.clips[i]
        shard, row, src = c["shard"], c["row"], self.source

        def video(key):
            u8 = torch.from_numpy(np.array(self._array(shard, key)[row]))  # (V, F, H, W, 3)
            return u8.permute(0, 4, 1, 2, 3).float().div_(127.5).sub_(1.0)

        def arr(key):
            return torch.from_numpy(np.array(self._array(shard, key)[row], np.float32))

        return {
            "video": video("video"),
            "prompts": video(f"prompts_{src}"),
            "actions": arr(f"actions_{src}"),
            "keypoints_uv": arr(f"keypoints_uv_{src}"),
            "ee_poses": arr(f"ee_poses_{src}"),
            "camera_K": arr("camera_K"),
            "camera_T_cam_base": arr("camera_T_cam_base"),
            "meta": {"bag": c["bag"], "cameras": list(c["cameras"]),
                     "stamps_ns": np.array(self._array(shard, "stamps_ns")[row]).tolist(),
                     "image_index0": c.get("image_index0"), "source": src,
                     "prompt_type": self.prompt_type, "index": i},
        }


def collate_clips(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack dataset items: video/prompts (B, V, 3, F, H, W), actions (B, F, D), ...; meta
    becomes a list. Items must share V, F, H, W (one rig config per cache)."""
    if not items:
        raise ConfigError("collate_clips: empty batch")
    out: dict[str, Any] = {}
    for k in items[0]:
        if k == "meta":
            out[k] = [it[k] for it in items]
            continue
        shapes = {tuple(it[k].shape) for it in items}
        if len(shapes) != 1:
            raise ConfigError(f"collate_clips: '{k}' has different shapes {sorted(shapes)} in "
                              "one batch (clips from rigs with different views or sizes)")
        out[k] = torch.stack([it[k] for it in items])
    return out
