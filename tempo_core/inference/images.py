"""Image conversions between the user's pixels and the network's tensors.

One convention for every part of TEMPO: ``uint8`` pixels are 0..255, ``uint16`` pixels are
0..65535 (a deep export), floats are already in [0, 1]; all map linearly to float in [0, 1].
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from tempo_core.errors import InputError
from tempo_core.network import REQUIRED_MULTIPLE

UINT16_MAX = 65535.0


def to_unit_float(image: np.ndarray) -> np.ndarray:
    """RGB ``[H, W, C]`` uint8, uint16 or float -> float32 in [0, 1] (floats are clipped)."""
    if image.dtype == np.uint8:
        return image.astype(np.float32) / 255.0
    if image.dtype == np.uint16:
        return image.astype(np.float32) / UINT16_MAX
    return np.clip(image.astype(np.float32), 0.0, 1.0)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """RGB ``[H, W, 3]`` uint8, uint16 or float in [0, 1] -> uint8, rounded."""
    if image.dtype == np.uint8:
        return image
    return np.clip(np.rint(to_unit_float(image) * 255.0), 0, 255).astype(np.uint8)


def image_to_tensor(image) -> torch.Tensor:
    """uint8 / uint16 ``[H, W]``, ``[H, W, 3|4]`` numpy array or PIL image -> float ``[3, H, W]``
    in [0, 1] (alpha dropped, grey repeated)."""
    if hasattr(image, "convert"):  # PIL
        image = np.asarray(image.convert("RGB"))
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise InputError(f"A frame must be an RGB image; got an array of shape {array.shape}.")
    scaled = to_unit_float(array[:, :, :3])
    return torch.from_numpy(np.ascontiguousarray(scaled)).permute(2, 0, 1)


def tensor_to_image(rgb: torch.Tensor) -> np.ndarray:
    """float ``[3, H, W]`` in [0, 1] -> uint8 ``[H, W, 3]`` (rounded)."""
    return (rgb.float().clamp(0, 1) * 255.0).round().byte().permute(1, 2, 0).cpu().numpy()


def pad_to_multiple(frames: torch.Tensor, multiple: int = REQUIRED_MULTIPLE) -> torch.Tensor:
    """``[..., H, W]`` -> replicate-padded to multiples of ``multiple`` (bottom / right)."""
    height, width = frames.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if not pad_h and not pad_w:
        return frames
    flat = frames.reshape(-1, *frames.shape[-3:])
    padded = F.pad(flat, (0, pad_w, 0, pad_h), mode="replicate")
    return padded.reshape(*frames.shape[:-2], height + pad_h, width + pad_w)
