"""Pictures of the maps: strip.png (frames above their heatmaps) and overlay.mp4 (H.264)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import torch

TILE = 128  # pixels per frame in the pictures: tiny 64² crops doubled, zoo 224² crops halved
ALPHA = 0.45  # heatmap opacity
CAPTION = 22  # height of the title band
FONT = cv2.FONT_HERSHEY_SIMPLEX


def to_rgb(clip: torch.Tensor, mean: list[float], std: list[float]) -> np.ndarray:
    """A normalized (C, T, H, W) model input back to (T, H, W, 3) uint8 RGB."""
    x = clip * torch.tensor(std)[:, None, None, None] + torch.tensor(mean)[:, None, None, None]
    return (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 3, 0).numpy()


def overlay(frames: np.ndarray, maps: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 frames under (T, H, W) maps in [0, 1], jet-coloured."""
    out = np.empty_like(frames)
    for t, (frame, m) in enumerate(zip(frames, maps)):
        heat = cv2.cvtColor(cv2.applyColorMap((m * 255).round().astype(np.uint8), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
        out[t] = cv2.addWeighted(frame, 1 - ALPHA, heat, ALPHA, 0)
    return out


def _tiles(frames: np.ndarray) -> list[np.ndarray]:
    return [cv2.resize(f, (TILE, TILE), interpolation=cv2.INTER_LINEAR) for f in frames]


def _text(img: np.ndarray, text: str, x: int, y: int, scale: float = 0.4) -> None:
    # White over a dark outline (the text shifted a pixel each way; a thicker
    # stroke would advance wider): readable on any frame or heatmap.
    for dx, dy in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        cv2.putText(img, text, (x + dx, y + dy), FONT, scale, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, text, (x, y), FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)


def write_strip(path: Path, title: str, clips: list[tuple[int, np.ndarray, np.ndarray, list[float]]]) -> None:
    """clips: (clip index, frames, overlays, frame times); per clip a row of frames above a row of overlays."""
    rows = []
    for index, frames, overlays, times in clips:
        top, bottom = _tiles(frames), _tiles(overlays)
        _text(top[0], f"clip {index}", 4, 14)
        for tile, time in zip(bottom, times):
            _text(tile, f"{time:.2f} s", 4, TILE - 6)
        rows += [np.concatenate(top, axis=1), np.concatenate(bottom, axis=1)]
    strip = np.concatenate(rows, axis=0)
    band = np.full((CAPTION, strip.shape[1], 3), 32, np.uint8)
    _text(band, title, 4, CAPTION - 7, 0.45)
    image = np.concatenate([band, strip], axis=0)
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"{path}: could not write the image")


def write_overlay_video(path: Path, clips: list[tuple[np.ndarray, np.ndarray]], fps: float) -> None:
    """H.264 MP4 of every clip's frames beside their overlays, clip after clip, at the clip's own frame rate."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = 2 * TILE, TILE, "yuv420p"
        for frames, overlays in clips:
            for frame, over in zip(_tiles(frames), _tiles(overlays)):
                picture = av.VideoFrame.from_ndarray(np.concatenate([frame, over], axis=1), format="rgb24")
                container.mux(stream.encode(picture))
        container.mux(stream.encode())
