"""A contact sheet of a recorded bag: one row per camera, frames evenly spaced in time,
read back from the bag (so it shows what was written, not what was meant to be)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vap_ros.errors import BagError

__all__ = ["bag_images", "contact_sheet"]


def bag_images(bag: str | Path) -> dict[str, list[tuple[int, np.ndarray]]]:
    """All rgb8 images of a rosbag2 bag per camera (topic namespace): [(stamp_ns, (H, W, 3))].

    Raises:
        BagError: the bag cannot be read or holds no rgb8 image topic.
    """
    from vap_ros.data.bag import BagReader
    from vap_ros.data.messages import header_stamp_ns, image_from_msg

    out: dict[str, list[tuple[int, np.ndarray]]] = {}
    with BagReader(bag) as reader:  # BagError for anything unreadable
        topics = reader.topics_of_type("sensor_msgs/msg/Image")
        for topic, _t, raw in reader.messages(topics):
            msg = reader.deserialize(raw, reader.topics[topic].msgtype)
            if msg.encoding == "rgb8":
                out.setdefault(topic.strip("/").split("/")[0], []).append(
                    (header_stamp_ns(msg), image_from_msg(msg)))
    if not out:
        raise BagError(f"bag {str(bag)!r} holds no rgb8 image topic")
    return out


def contact_sheet(bag: str | Path, out_png: str | Path, columns: int = 8,
                  tile: int | None = None) -> Path:
    """Write a PNG grid: rows = cameras, ``columns`` frames evenly spaced over the episode,
    each labelled with its camera and time since the first frame. Returns the PNG path."""
    images = bag_images(bag)
    rows = []
    t0 = min(frames[0][0] for frames in images.values())
    for cam in sorted(images):
        frames = images[cam]
        idx = np.linspace(0, len(frames) - 1, min(columns, len(frames))).round().astype(int)
        tiles = []
        for i in idx:
            stamp, img = frames[i]
            h, w = img.shape[:2]
            size = tile or max(h, w)
            t = cv2.resize(img, (size * w // max(h, w), size * h // max(h, w)),
                           interpolation=cv2.INTER_AREA if size < max(h, w)
                           else cv2.INTER_NEAREST).copy()
            scale = max(0.3, t.shape[0] / 400)
            label = f"{cam} {(stamp - t0) * 1e-9:.1f}s"
            cv2.putText(t, label, (3, int(14 * scale / 0.35)), cv2.FONT_HERSHEY_SIMPLEX, scale,
                        (255, 255, 255), 1, cv2.LINE_AA)
            tiles.append(t)
        while len(tiles) < columns:
            tiles.append(np.zeros_like(tiles[0]))
        rows.append(np.concatenate(tiles, axis=1))
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    sheet = np.concatenate(rows, axis=0)
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise BagError(f"cannot write {out}")
    return out
