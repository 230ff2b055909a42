"""Reading videos: probe (frame times, keyframes) and decode chosen frames to RGB.

Two backends: PyAV (preferred: it reads keyframe flags from the container's
packets without decoding, and can seek to keyframes) and OpenCV (fallback:
frame times come from the frame rate, keyframes are unknown). Both decode
with FFmpeg and give the same pixels. Each is imported where it is used, so
either may be missing; a backend counts as available only if it imports (a
broken install falls back to the other instead of failing on every video).
"""
from __future__ import annotations

import bisect
import functools
import importlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

BACKENDS = ("pyav", "opencv")


class VideoReadError(Exception):
    """A video that cannot be read: missing, not a video, corrupt, truncated or empty."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):  # picklable with its two arguments (DataLoader workers send exceptions back)
        return (type(self), (self.path, self.reason))


@dataclass(frozen=True)
class VideoInfo:
    path: str
    width: int
    height: int
    fps: float
    frame_count: int
    duration: float  # seconds spanned by the frames: last time − first time + last frame's duration
    frame_times: list[float]  # presentation time of each frame in seconds, ascending, first frame at 0
    keyframes: list[int]  # indices into frame_times of sync frames; empty when unknown (OpenCV)
    codec: str
    # PyAV only: each frame's raw presentation timestamp, used to find decoded frames after a seek.
    pts: list[int] = field(default_factory=list, repr=False)


@functools.cache
def _imports(module: str) -> bool:
    try:
        importlib.import_module(module)
    except Exception:  # a broken install raises more than ImportError
        return False
    return True


_MODULES = {"pyav": "av", "opencv": "cv2"}


def available_backends() -> list[str]:
    """The backends that import, in order of preference."""
    return [b for b in BACKENDS if _imports(_MODULES[b])]


def _backend(backend: str | None) -> str:
    if backend is None:
        name = next((b for b in BACKENDS if _imports(_MODULES[b])), None)  # the first that imports
        if name is None:
            raise RuntimeError("no video backend: install PyAV (`pip install av`) or OpenCV (`pip install opencv-python-headless`)")
        return name
    if backend not in BACKENDS:
        raise ValueError(f"unknown video backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    return backend


def _check_file(path: str) -> None:
    if not os.path.exists(path):
        raise VideoReadError(path, "no such file")
    if os.path.isdir(path):
        raise VideoReadError(path, "is a directory, not a video file")
    if os.path.getsize(path) == 0:
        raise VideoReadError(path, "empty file (0 bytes)")


def probe_video(path: str | os.PathLike, backend: str | None = None) -> VideoInfo:
    """Frame times, keyframes and format of a video, without decoding (PyAV) or from metadata (OpenCV)."""
    path = str(path)
    name = _backend(backend)
    _check_file(path)
    return _probe_pyav(path) if name == "pyav" else _probe_opencv(path)


def _probe_or_error(path: str, backend: str | None) -> VideoInfo | VideoReadError:
    try:
        return probe_video(path, backend)
    except VideoReadError as e:
        return e


def probe_videos(
    paths: list[str], backend: str | None = None, workers: int = 0, *, min_parallel: int = 2000
) -> list[VideoInfo | VideoReadError]:
    """probe_video for many files; unreadable files come back as their error.

    A PyAV probe demuxes the whole file (measured 1.5-3 ms for a short
    synthetic clip here, more for a 10 s Kinetics clip), so a Kinetics-size list
    takes tens of minutes in one process. With workers > 1 and at least
    min_parallel files, `workers` processes share the work; smaller lists stay
    in this process, since starting the processes costs seconds.
    """
    if workers <= 1 or len(paths) < max(min_parallel, 2):
        return [_probe_or_error(p, backend) for p in paths]
    # spawn: the parent may run torch's thread pools, which do not survive fork.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        chunk = max(1, min(64, len(paths) // (4 * workers)))
        return list(pool.map(_probe_or_error, paths, [backend] * len(paths), chunksize=chunk))


def decode_frames(
    path: str | os.PathLike, indices: list[int], *, backend: str | None = None, info: VideoInfo | None = None
) -> np.ndarray:
    """Frames at `indices` (presentation order, may repeat, any order) as uint8 (len, H, W, 3) RGB.

    Decodes only up to the last requested frame; with PyAV it also seeks to the
    keyframe before a requested frame when that skips decoding. Pass the
    probe's `info` to avoid probing again.
    """
    path = str(path)
    name = _backend(backend)
    if info is None or (name == "pyav" and not info.pts):
        info = probe_video(path, name)
    for i in indices:
        if not 0 <= i < info.frame_count:
            raise IndexError(f"{path}: frame index {i} out of range (the video has {info.frame_count} frames)")
    wanted = sorted(set(indices))
    got = _decode_pyav(path, wanted, info) if name == "pyav" else _decode_opencv(path, wanted)
    out = np.empty((len(indices), info.height, info.width, 3), np.uint8)
    for j, i in enumerate(indices):
        frame = got[i]
        if frame.shape != out.shape[1:]:
            raise VideoReadError(path, f"frame {i} is {frame.shape[1]}x{frame.shape[0]}, expected {info.width}x{info.height}")
        out[j] = frame
    return out


# ---------------------------------------------------------------- PyAV


def _open_pyav(path: str):
    import av

    try:
        container = av.open(path)
    except av.error.FFmpegError as e:
        raise VideoReadError(path, f"not a readable video ({e.strerror or e})") from e
    if not container.streams.video:
        container.close()
        raise VideoReadError(path, "contains no video stream")
    return container


def _probe_pyav(path: str) -> VideoInfo:
    import av

    with _open_pyav(path) as container:
        stream = container.streams.video[0]
        pts, key, durations = [], [], []
        corrupt = 0
        try:
            for packet in container.demux(stream):
                if packet.size == 0:  # the demuxer's end-of-stream flush packet
                    continue
                if packet.pts is None:
                    raise VideoReadError(path, "packets carry no presentation timestamps (raw elementary stream?); remux it into MP4")
                pts.append(packet.pts)
                key.append(packet.is_keyframe)
                durations.append(packet.duration or 0)
                corrupt += packet.is_corrupt
        except av.error.FFmpegError as e:
            raise VideoReadError(path, f"corrupt video data after {len(pts)} frames ({e.strerror or e})") from e
        if not pts:
            raise VideoReadError(path, "contains no video frames")
        # A truncated file still demuxes the packets before the cut: compare with
        # the frame count in the header (0 when the container does not say).
        declared = stream.frames
        if declared and len(pts) < declared:
            raise VideoReadError(path, f"truncated: only {len(pts)} of {declared} frames are present")
        if corrupt:
            raise VideoReadError(path, f"corrupt: {corrupt} of {len(pts)} frames are flagged corrupt by the demuxer")
        tb = stream.time_base
        rate = stream.average_rate or stream.guessed_rate
        codec = stream.codec_context.name
        width, height = stream.codec_context.width, stream.codec_context.height

    # Packets come in decode order; presentation order sorts by pts (B-frames).
    order = sorted(range(len(pts)), key=pts.__getitem__)
    p0 = pts[order[0]]
    # Exact rational arithmetic, then one rounding: i/fps for constant-rate video, like the sampler's frameTimesFromRate.
    times = [float((pts[i] - p0) * tb) for i in order]
    keyframes = [j for j, i in enumerate(order) if key[i]]
    if rate:
        fps = float(rate)
    else:  # no rate in the header: the mean over the frames
        fps = (len(times) - 1) / times[-1] if times[-1] > 0 else 0.0
    # Duration as one exact rational too, so a constant-rate video gets frame_count / fps exactly.
    span = (pts[order[-1]] - p0) * tb
    last = durations[order[-1]]
    duration = float(span + last * tb) if last else float(span) + (1 / fps if fps else 0.0)
    return VideoInfo(
        path=path,
        width=width,
        height=height,
        fps=fps,
        frame_count=len(times),
        duration=duration,
        frame_times=times,
        keyframes=keyframes,
        codec=codec,
        pts=[pts[i] for i in order],
    )


def _decode_pyav(path: str, wanted: list[int], info: VideoInfo) -> dict[int, np.ndarray]:
    import av

    index_of = {p: i for i, p in enumerate(info.pts)}
    keyframes = info.keyframes
    wanted_set = set(wanted)
    got: dict[int, np.ndarray] = {}
    with _open_pyav(path) as container:
        stream = container.streams.video[0]
        frames = None  # the decode iterator, positioned after frame `last`
        last = -1
        try:
            for target in wanted:
                # Seek when the keyframe governing `target` lies beyond the
                # current position: the frames in between need not be decoded.
                k = bisect.bisect_right(keyframes, target) - 1
                if frames is None or (k >= 0 and keyframes[k] > last + 1):
                    if k >= 0 and keyframes[k] > 0:
                        container.seek(info.pts[keyframes[k]], stream=stream, backward=True, any_frame=False)
                    frames = container.decode(stream)
                while last < target:
                    frame = next(frames, None)
                    if frame is None:
                        raise VideoReadError(path, f"frame {target} could not be decoded (the stream ended after frame {last})")
                    if frame.pts not in index_of:
                        raise VideoReadError(path, f"decoded a frame with timestamp {frame.pts} that the probe did not list")
                    last = index_of[frame.pts]
                    if last in wanted_set and last not in got:
                        got[last] = frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as e:
            raise VideoReadError(path, f"decoding failed near frame {last + 1} ({e.strerror or e})") from e
    _check_complete(path, wanted, got)
    return got


def _check_complete(path: str, wanted: list[int], got: dict[int, np.ndarray]) -> None:
    missing = [i for i in wanted if i not in got]
    if missing:
        raise VideoReadError(path, f"the decoder skipped frame(s) {missing[:5]}")


# ---------------------------------------------------------------- OpenCV


def _open_opencv(path: str):
    import cv2

    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    if not cap.isOpened():
        raise VideoReadError(path, "not a readable video (OpenCV could not open it)")
    # Same pixels as PyAV: no automatic rotation from container metadata.
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0)
    return cap


def _probe_opencv(path: str) -> VideoInfo:
    import cv2

    cap = _open_opencv(path)
    try:
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode("ascii", "replace").strip("\0 ")
    finally:
        cap.release()
    if count <= 0:
        raise VideoReadError(path, "contains no video frames")
    if not fps > 0:
        raise VideoReadError(path, "has no frame rate")
    # OpenCV exposes neither timestamps without decoding nor keyframe flags:
    # assume a constant rate, keyframes unknown. Truncation shows up only at decode time.
    return VideoInfo(
        path=path,
        width=width,
        height=height,
        fps=fps,
        frame_count=count,
        duration=count / fps,
        frame_times=[i / fps for i in range(count)],
        keyframes=[],
        codec={"avc1": "h264", "h264": "h264"}.get(fourcc.lower(), fourcc.lower()),
    )


def _decode_opencv(path: str, wanted: list[int]) -> dict[int, np.ndarray]:
    import cv2

    wanted_set = set(wanted)
    got: dict[int, np.ndarray] = {}
    cap = _open_opencv(path)
    try:
        # Sequential: OpenCV's frame seeking is not frame-accurate. grab() skips the RGB conversion.
        for i in range(wanted[-1] + 1 if wanted else 0):
            if i in wanted_set:
                ok, bgr = cap.read()
                if ok:
                    got[i] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            else:
                ok = cap.grab()
            if not ok:
                raise VideoReadError(path, f"frame {i} could not be decoded (truncated or corrupt video?)")
    finally:
        cap.release()
    _check_complete(path, wanted, got)
    return got
