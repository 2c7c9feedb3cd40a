"""Prompt-over-image overlays, for checking a calibration by eye."""

from __future__ import annotations

import numpy as np

from vap_ros.errors import ImageError

__all__ = ["overlay"]


def overlay(image: np.ndarray, prompt: np.ndarray, alpha: float = 0.8) -> np.ndarray:
    """Blend a prompt (black = transparent) over an image of the same size.

    Args:
        image, prompt: (..., H, W, 3) uint8 RGB.
        alpha: opacity of the drawn prompt pixels.
    """
    image = np.asarray(image)
    prompt = np.asarray(prompt)
    if image.shape != prompt.shape:
        raise ImageError(f"overlay: image {image.shape} and prompt {prompt.shape} differ in size")
    mask = prompt.max(axis=-1, keepdims=True).astype(np.float32) / 255.0
    w = np.clip(mask * 3.0, 0.0, 1.0) * alpha  # antialiased edges fade smoothly
    out = image.astype(np.float32) * (1.0 - w) + prompt.astype(np.float32) * w
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
