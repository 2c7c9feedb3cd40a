"""Side-by-side videos (real | predicted | prompt) as MP4/GIF files and TensorBoard GIFs."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from vap_ros.errors import ImageError

__all__ = ["add_gif", "gif_bytes", "side_by_side", "write_gif", "write_mp4"]


def side_by_side(*videos: np.ndarray, scale: int = 1, gap: int = 2) -> np.ndarray:
    """Concatenate uint8 (T, H, W, 3) videos left to right with a white gap; nearest-neighbour
    upscaled by ``scale``. Returns (T, H*scale, W_total, 3) uint8."""
    T = videos[0].shape[0]
    parts = []
    for i, v in enumerate(videos):
        if v.shape[0] != T:
            raise ImageError(f"video {i} has {v.shape[0]} frames: expected {T}, as video 0")
        v = np.repeat(np.repeat(v, scale, axis=1), scale, axis=2) if scale > 1 else v
        if i:
            parts.append(np.full((T, v.shape[1], gap, 3), 255, np.uint8))
        parts.append(v)
    return np.ascontiguousarray(np.concatenate(parts, axis=2))


def _even(frames: np.ndarray) -> np.ndarray:
    """Pad to even height/width (H.264 with yuv420p needs it)."""
    _, h, w, _ = frames.shape
    return np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def write_mp4(path: str | Path, frames: np.ndarray, fps: float) -> Path:
    """H.264 MP4 through imageio-ffmpeg."""
    import imageio.v2 as imageio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = imageio.get_writer(str(path), fps=fps, codec="libx264", macro_block_size=1,
                                pixelformat="yuv420p", ffmpeg_log_level="error")
    try:
        for f in _even(frames):
            writer.append_data(f)
    finally:
        writer.close()
    return path


def gif_bytes(frames: np.ndarray, fps: float) -> bytes:
    import imageio.v2 as imageio

    buf = io.BytesIO()
    imageio.mimsave(buf, list(frames), format="GIF", duration=1.0 / fps, loop=0)
    return buf.getvalue()


def write_gif(path: str | Path, frames: np.ndarray, fps: float) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gif_bytes(frames, fps))
    return path


def add_gif(writer, tag: str, frames: np.ndarray, step: int, fps: float) -> None:
    """An animated GIF image summary (what ``SummaryWriter.add_video`` writes, without moviepy)."""
    from tensorboard.compat.proto.summary_pb2 import Summary

    _, h, w, c = frames.shape
    image = Summary.Image(height=h, width=w, colorspace=c,
                          encoded_image_string=gif_bytes(frames, fps))
    writer._get_file_writer().add_summary(Summary(value=[Summary.Value(tag=tag, image=image)]),
                                          step)
