"""Synthetic motion dataset: 8 classes that can only be told apart over time.

Each clip shows textured objects on a textured background, all moving the
way the class says (translate, zoom, rotate), with per-frame camera jitter.
Any single frame is compatible with every class; only the motion between
frames gives the label. Frames are rendered with numpy/cv2 and encoded by
Debian's ffmpeg (libx264) into real H.264 MP4 files with varied GOPs, sizes,
frame rates and profiles, so that the decoding and keyframe paths of training
and serving are exercised on the same kind of files.

Usage: videotrain make-dataset --out DIR --train-per-class 40 --val-per-class 10
"""
from __future__ import annotations

import json
import math
import multiprocessing
import os
import re
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

CLASSES = [
    "move_left",
    "move_right",
    "move_up",
    "move_down",
    "zoom_in",
    "zoom_out",
    "rotate_cw",
    "rotate_ccw",
]
# A horizontal flip turns left into right and clockwise into counter-clockwise:
# label i of a flipped clip is HFLIP_LABEL_PERMUTATION[i].
HFLIP_LABEL_PERMUTATION = [1, 0, 2, 3, 4, 5, 7, 6]

DATASET_NAME = "synthetic-motion"
SPLITS = ("train", "val")

# Generation parameters (also recorded in dataset.json).
SIZES = [(96, 72), (128, 96), (160, 120), (176, 144), (192, 144), (256, 192), (128, 128), (96, 128)]
FRAME_RATES = [15, 24, 25, 30]
GOPS = [4, 8, 15, 30]
DURATION_RANGE = (2.0, 4.0)  # seconds
BASELINE_FRACTION = 0.25  # the rest is High profile with B-frames
FASTSTART_FRACTION = 0.5  # moov before mdat; the rest has moov at the end
MAX_JITTER = 1  # pixels of whole-frame camera shake
# The background keeps this fraction of its texture contrast: a busy, shaking
# background drowns the object's motion for small models (measured: a 3-layer
# 3D CNN stayed at chance with full contrast and 2 px shake).
BACKGROUND_CONTRAST = 0.2
PRESET = "veryfast"
SPRITE = 96  # object texture/mask resolution before the affine transform
ENCODE_BATCH = 8  # clips per ffmpeg process


class FFmpegNotFoundError(RuntimeError):
    pass


def ffmpeg_path() -> str:
    path = shutil.which("ffmpeg")
    if path is None:
        raise FFmpegNotFoundError(
            "ffmpeg was not found on PATH; the synthetic dataset is encoded with it. "
            "Install Debian's ffmpeg package: apt-get update && apt-get install -y ffmpeg"
        )
    return path


def clip_spec(seed: int, split: str, label: int, index: int) -> dict:
    """Everything that defines one clip, drawn from an RNG keyed by (seed, split, label, index)."""
    rng = np.random.default_rng([seed, SPLITS.index(split), label, index])
    width, height = SIZES[rng.integers(len(SIZES))]
    fps = int(rng.choice(FRAME_RATES))
    duration = rng.uniform(*DURATION_RANGE)
    baseline = bool(rng.random() < BASELINE_FRACTION)
    return {
        "path": f"videos/{CLASSES[label]}/{split}_{index:05d}.mp4",
        "label": label,
        "split": split,
        "width": int(width),
        "height": int(height),
        "fps": fps,
        "frames": int(round(duration * fps)),
        "gop": int(rng.choice(GOPS)),
        "profile": "baseline" if baseline else "high",
        "faststart": bool(rng.random() < FASTSTART_FRACTION),
        "renderSeed": int(rng.integers(2**63)),
    }


# ---------------------------------------------------------------- rendering


def _two_colors(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # Redraw until the two colours differ visibly, so every texture has contrast.
    while True:
        a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        if np.linalg.norm(a - b) > 90:
            return a.astype(np.float32), b.astype(np.float32)


def _smooth_noise(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    cell = int(rng.integers(4, 17) * scale)
    grid = rng.random((max(2, h // cell), max(2, w // cell))).astype(np.float32)
    t = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    return (t - t.min()) / max(float(t.max() - t.min()), 1e-6)


def _pattern(rng: np.random.Generator, h: int, w: int, kind: str, scale: float) -> np.ndarray:
    """A [0, 1] float map of the given kind: smooth noise, stripes or checker; `scale` multiplies its feature size."""
    if kind == "noise":
        return _smooth_noise(rng, h, w, scale)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "stripes":
        angle = rng.uniform(0, math.pi)
        period = rng.uniform(5, 20) * scale
        t = 0.5 + 0.5 * np.sin(2 * math.pi * (x * math.cos(angle) + y * math.sin(angle)) / period + rng.uniform(0, 6.3))
        return t.astype(np.float32)
    cell = int(rng.integers(4, 15) * scale)
    ox, oy = rng.integers(0, cell, 2)
    return (((x.astype(np.int32) + ox) // cell + (y.astype(np.int32) + oy) // cell) % 2).astype(np.float32)


def _texture(rng: np.random.Generator, h: int, w: int, scale: float = 1.0) -> np.ndarray:
    kind = str(rng.choice(["noise", "stripes", "checker"]))
    t = _pattern(rng, h, w, kind, scale)
    if kind != "noise":
        # Mixing in noise breaks the symmetries of stripes and checkers, which
        # would otherwise make a rotation by 90°/180° look like no rotation.
        t = 0.6 * t + 0.4 * _smooth_noise(rng, h, w, scale)
    a, b = _two_colors(rng)
    return a * (1 - t[..., None]) + b * t[..., None]


def _marked(texture: np.ndarray) -> np.ndarray:
    """The sprite texture with a bar from its centre to its edge in a contrasting colour.

    Without an orientation mark a disc or ring with a fine texture shows its
    rotation too faintly for a small model to learn (measured: rotate_cw/ccw
    stayed near chance while the other classes were learned).
    """
    out = texture.copy()
    colour = 255.0 - texture.reshape(-1, 3).mean(axis=0)
    c = SPRITE // 2
    cv2.line(out, (c, c), (SPRITE - 4, c), colour.tolist(), max(3, SPRITE // 10), cv2.LINE_AA)
    return out


def _shape_mask(rng: np.random.Generator) -> np.ndarray:
    """Anti-aliased [0, 1] mask of a disc, square, triangle or ring, centred in the sprite."""
    kind = str(rng.choice(["disc", "square", "triangle", "ring"]))
    c = SPRITE / 2
    r = SPRITE / 2 - 1
    mask = np.zeros((SPRITE, SPRITE), np.float32)

    def fx(v: float) -> int:  # 3 fractional bits (cv2's `shift` argument) for sub-pixel outlines
        return int(round(v * 8))

    if kind in ("disc", "ring"):
        cv2.circle(mask, (fx(c), fx(c)), fx(r), 1.0, -1, cv2.LINE_AA, 3)
        if kind == "ring":
            cv2.circle(mask, (fx(c), fx(c)), fx(r * rng.uniform(0.35, 0.6)), 0.0, -1, cv2.LINE_AA, 3)
    else:
        n = 4 if kind == "square" else 3
        phase = rng.uniform(0, 2 * math.pi)
        pts = [(fx(c + r * math.cos(phase + 2 * math.pi * k / n)), fx(c + r * math.sin(phase + 2 * math.pi * k / n))) for k in range(n)]
        cv2.fillPoly(mask, [np.array(pts, np.int32)], 1.0, cv2.LINE_AA, 3)
    return mask


def object_track(rng: np.random.Generator, label: int, n: int, fps: int, w: int, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame centre (n, 2), diameter (n,) and angle (n, radians) of one object."""
    f = np.arange(n) / max(n - 1, 1)  # progress through the clip, 0..1
    short = min(w, h)
    name = CLASSES[label]
    angle = np.full(n, rng.uniform(0, 2 * math.pi))
    if name.startswith("move_"):
        size = np.full(n, short * rng.uniform(0.35, 0.5))
        horizontal = name in ("move_left", "move_right")
        extent, across = (w, h) if horizontal else (h, w)
        travel = rng.uniform(0.3, 0.5) * extent
        # Keep the centre within 25–75% of the frame, inside the model's centre crop.
        a0 = rng.uniform(0.25 * extent, 0.75 * extent - travel)
        a = a0 + travel * f
        if name in ("move_left", "move_up"):
            a = extent - a
        b = np.full(n, rng.uniform(0.3, 0.7) * across)
        centre = np.stack([a, b], 1) if horizontal else np.stack([b, a], 1)
    elif name.startswith("zoom_"):
        small = short * rng.uniform(0.2, 0.3)
        ratio = rng.uniform(2.0, 3.0)
        size = small * ratio ** (f if name == "zoom_in" else 1 - f)
        centre = np.tile(rng.uniform(0.3, 0.7, 2) * (w, h), (n, 1))
    else:
        size = np.full(n, short * rng.uniform(0.4, 0.6))
        centre = np.tile(rng.uniform(0.35, 0.65, 2) * (w, h), (n, 1))
        # At most 120°/s, so even 4 frames over 2 s step < 90° and the
        # direction stays unambiguous. Growing angles turn clockwise (sprite_matrix).
        speed = math.radians(rng.uniform(60, 120))
        angle = angle + (1 if name == "rotate_cw" else -1) * speed * np.arange(n) / fps
    return centre, size, angle


def sprite_matrix(centre: np.ndarray, size: float, angle: float) -> np.ndarray:
    """Affine map (2×3, for cv2.warpAffine) of sprite pixel p to centre + (size/SPRITE)·R(angle)·(p − sprite centre).

    Image y points down, so a growing angle turns the sprite clockwise on screen.
    """
    s = size / SPRITE
    cos, sin = s * math.cos(angle), s * math.sin(angle)
    c = SPRITE / 2
    cx, cy = centre
    return np.array([[cos, -sin, cx - cos * c + sin * c], [sin, cos, cy - sin * c - cos * c]], np.float32)


def render_clip(spec: dict) -> np.ndarray:
    """The clip's frames, uint8 (T, H, W, 3) RGB; a pure function of `spec`."""
    rng = np.random.default_rng(spec["renderSeed"])
    w, h, n, label = spec["width"], spec["height"], spec["frames"], spec["label"]
    m = MAX_JITTER
    wc, hc = w + 2 * m, h + 2 * m  # canvas with room for the camera jitter
    background = _texture(rng, hc, wc)
    mean = background.mean(axis=(0, 1), keepdims=True)
    background = mean + BACKGROUND_CONTRAST * (background - mean)
    objects = []
    for _ in range(1):
        mask = _shape_mask(rng)
        # Coarser texture on the sprite: it is shrunk 2-4x on screen and must still show rotation.
        sprite = _marked(_texture(rng, SPRITE, SPRITE, scale=2.5))
        premultiplied = sprite * mask[..., None]
        objects.append((premultiplied, mask, object_track(rng, label, n, spec["fps"], w, h)))
    jitter_amp = int(rng.integers(0, m + 1))
    jitter = rng.integers(-jitter_amp, jitter_amp + 1, (n, 2))
    frames = np.empty((n, h, w, 3), np.uint8)
    for i in range(n):
        canvas = background.copy()
        for premultiplied, mask, (centre, size, angle) in objects:
            mat = sprite_matrix(centre[i] + m, size[i], angle[i])
            fg = cv2.warpAffine(premultiplied, mat, (wc, hc), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            alpha = cv2.warpAffine(mask, mat, (wc, hc), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            canvas = canvas * (1 - alpha[..., None]) + fg
        jx, jy = jitter[i]
        frames[i] = np.clip(np.rint(canvas[m + jy : m + jy + h, m + jx : m + jx + w]), 0, 255)
    return frames


# ---------------------------------------------------------------- encoding


@dataclass(frozen=True)
class EncodeJob:
    raw: Path  # uint8 rgb24 frames, back to back
    out: Path
    width: int
    height: int
    fps: int
    gop: int
    profile: str
    faststart: bool


def encode_jobs(jobs: list[EncodeJob]) -> None:
    """Encodes raw RGB clips to H.264 MP4 with one ffmpeg/libx264 process, a keyframe every `gop` frames.

    One process for several clips: ffmpeg's start-up (~50 ms of CPU, 200+
    shared libraries) costs more than encoding a small clip. The files are
    byte-identical to encoding each clip alone.
    """
    cmd = [ffmpeg_path(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y"]
    for j in jobs:
        cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{j.width}x{j.height}", "-r", str(j.fps), "-i", str(j.raw)]
    # Write next to the target and rename, so an interrupted run leaves no half file.
    parts = [j.out.with_name(j.out.name + ".part") for j in jobs]
    for k, (j, part) in enumerate(zip(jobs, parts)):
        cmd += [
            "-map", f"{k}:v", "-c:v", "libx264", "-preset", PRESET, "-profile:v", j.profile, "-pix_fmt", "yuv420p",
            # Regular GOPs: an IDR exactly every `gop` frames, no scene-cut keyframes.
            "-g", str(j.gop), "-keyint_min", str(j.gop), "-sc_threshold", "0",
            # One thread and bitexact muxing make the file a function of the frames.
            "-threads", "1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1",
        ]
        cmd += ["-movflags", "+faststart"] if j.faststart else []
        cmd += ["-f", "mp4", str(part)]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        for part in parts:
            part.unlink(missing_ok=True)
        names = ", ".join(str(j.out) for j in jobs)
        raise RuntimeError(f"ffmpeg failed (exit {proc.returncode}) encoding {names}: {proc.stderr.decode(errors='replace').strip()[-2000:]}")
    for j, part in zip(jobs, parts):
        os.replace(part, j.out)


def encode_mp4(frames: np.ndarray, out_path: Path, *, fps: int, gop: int, profile: str, faststart: bool) -> None:
    """Encodes uint8 (T, H, W, 3) RGB frames to one H.264 MP4 (see encode_jobs)."""
    n, h, w, _ = frames.shape
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "frames.rgb"
        np.ascontiguousarray(frames, np.uint8).tofile(raw)
        encode_jobs([EncodeJob(raw, Path(out_path), w, h, fps, gop, profile, faststart)])


def _make_clips(out_dir: str, specs: list[dict]) -> int:
    cv2.setNumThreads(1)  # one batch per worker process; cv2's own threads only oversubscribe
    jobs = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, spec in enumerate(specs):
            raw = Path(tmp) / f"{k}.rgb"
            render_clip(spec).tofile(raw)
            out = Path(out_dir) / spec["path"]
            out.parent.mkdir(parents=True, exist_ok=True)
            jobs.append(EncodeJob(raw, out, spec["width"], spec["height"], spec["fps"], spec["gop"], spec["profile"], spec["faststart"]))
        encode_jobs(jobs)
    return len(specs)


def _ffmpeg_version() -> str:
    out = subprocess.run([ffmpeg_path(), "-hide_banner", "-version"], capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else "unknown"


def _remove_stale_clips(out: Path, current: set[str]) -> None:
    """Deletes clips of an earlier, larger run into the same folder (and half-written files):
    a folder-per-class reader would otherwise pick them up. Only our own file names are touched."""
    for name in CLASSES:
        folder = out / "videos" / name
        for f in folder.glob("*.mp4*"):
            rel = f"videos/{name}/{f.name}"
            if re.fullmatch(r"(train|val)_\d{5}\.mp4(\.part)?", f.name) and rel not in current:
                f.unlink()


def generate_dataset(
    out_dir: str | os.PathLike,
    *,
    clips_per_class_train: int,
    clips_per_class_val: int,
    seed: int = 0,
    workers: int = 2,
    progress: bool = True,
) -> dict:
    """Writes the dataset under out_dir and returns the content of its dataset.json."""
    if clips_per_class_train < 1 or clips_per_class_val < 0:
        raise ValueError(f"need at least 1 train clip per class and 0 or more val clips, got {clips_per_class_train} and {clips_per_class_val}")
    ffmpeg_path()  # fail before any work if ffmpeg is missing
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    per_class = {"train": clips_per_class_train, "val": clips_per_class_val}
    specs = [clip_spec(seed, split, label, i) for split in SPLITS for label in range(len(CLASSES)) for i in range(per_class[split])]

    started = time.perf_counter()
    bar = tqdm(total=len(specs), desc="synthetic clips", unit="clip", disable=not progress)
    batches = [specs[i : i + ENCODE_BATCH] for i in range(0, len(specs), ENCODE_BATCH)]
    if workers <= 1:
        for batch in batches:
            bar.update(_make_clips(str(out), batch))
    else:
        # spawn, not fork: the caller may already hold threads (torch, cv2) that fork would copy mid-state.
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            for fut in as_completed([pool.submit(_make_clips, str(out), batch) for batch in batches]):
                bar.update(fut.result())
    bar.close()
    elapsed = time.perf_counter() - started
    _remove_stale_clips(out, {s["path"] for s in specs})

    for split in SPLITS:
        lines = [f"{s['path']} {s['label']}\n" for s in specs if s["split"] == split]
        (out / f"{split}.txt").write_text("".join(lines))
    (out / "labels.txt").write_text("".join(c + "\n" for c in CLASSES))
    info = {
        "name": DATASET_NAME,
        "seed": seed,
        "classes": CLASSES,
        "counts": {split: len(CLASSES) * per_class[split] for split in SPLITS},
        "countsPerClass": per_class,
        "layout": {"videos": "videos/<class>/<split>_<nnnnn>.mp4", "lists": ["train.txt", "val.txt"], "labels": "labels.txt"},
        "generator": {
            "sizes": [list(s) for s in SIZES],
            "frameRates": FRAME_RATES,
            "gops": GOPS,
            "durationRange": list(DURATION_RANGE),
            "baselineFraction": BASELINE_FRACTION,
            "faststartFraction": FASTSTART_FRACTION,
            "maxJitter": MAX_JITTER,
            "backgroundContrast": BACKGROUND_CONTRAST,
            "codec": "h264",
            "encoder": f"libx264 -preset {PRESET} -threads 1",
            "ffmpeg": _ffmpeg_version(),
            "hflipLabelPermutation": HFLIP_LABEL_PERMUTATION,
        },
        "clips": [{k: v for k, v in s.items() if k != "renderSeed"} for s in specs],
    }
    (out / "dataset.json").write_text(json.dumps(info, indent=1) + "\n")
    if progress:
        print(f"generated {len(specs)} clips in {elapsed:.1f} s ({len(specs) / max(elapsed, 1e-9):.1f} clips/s, {workers} workers) -> {out}")
    return info

