"""Extract the frames a model's sampling plan wants, as image files to upload.

This is what a client does before `POST /v1/classify` with frames: it follows
the manifest's sampling plan (the same function as the Worker and training),
decodes those frames and writes them at their original size, so the Worker's
resize and crop see exactly what training's eval transform sees.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2

from .data.labeled import load_labeled_list
from .data.video import decode_frames, probe_video
from .manifest import load_manifest
from .sampling import VideoTimeline, sample_frames

FORMATS = {"jpg": [cv2.IMWRITE_JPEG_QUALITY, 95], "png": [cv2.IMWRITE_PNG_COMPRESSION, 3]}


def extract_clip_frames(video_path: str, plan: dict, out_dir: Path, fmt: str = "jpg") -> list[dict]:
    """Writes out_dir/clipK/frameJ.<fmt> for every clip of the plan; returns the clips with their files."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown image format {fmt!r}; expected one of {', '.join(FORMATS)}")
    info = probe_video(video_path)
    clips = sample_frames(VideoTimeline(info.duration, info.frame_times, info.keyframes), plan)
    indices = [f.index for clip in clips for f in clip.frames]
    pixels = decode_frames(video_path, indices, info=info)
    out = []
    k = 0
    for clip in clips:
        clip_dir = out_dir / f"clip{clip.index}"
        clip_dir.mkdir(parents=True, exist_ok=True)
        files = []
        for j, frame in enumerate(clip.frames):
            path = clip_dir / f"frame{j:02d}.{fmt}"
            if not cv2.imwrite(str(path), cv2.cvtColor(pixels[k], cv2.COLOR_RGB2BGR), FORMATS[fmt]):
                raise OSError(f"{path}: could not write the image")
            files.append(str(path))
            k += 1
        out.append({"clip": clip.index, "start": clip.start, "times": [f.time for f in clip.frames], "files": files})
    return out


def extract_frames(manifest_path: str, videos: list[tuple[str, int]], out_dir: str, fmt: str = "jpg") -> dict:
    """Frames of every listed video; writes and returns OUT/index.json."""
    manifest = load_manifest(manifest_path)
    root = Path(out_dir)
    items = []
    for v, (path, label) in enumerate(videos):
        clips = extract_clip_frames(path, manifest["sampling"], root / f"video{v:05d}", fmt)
        items.append({"path": path, "label": label, "clips": clips})
    index = {"model": {"id": manifest["id"], "version": manifest["version"]}, "format": fmt, "items": items}
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.json").write_text(json.dumps(index, indent=1))
    return index


def videos_from_args(video: str | None, list_file: str | None, root: str | None) -> list[tuple[str, int]]:
    """One video (label -1: unknown) or a `path label` list."""
    if list_file:
        return load_labeled_list(list_file, root)
    if video:
        return [(video, -1)]
    raise ValueError("give a VIDEO or --list FILE")
