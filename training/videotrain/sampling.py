"""The frame-sampling plan, evaluated on one video.

The same function exists in TypeScript (contract/sampling.ts, used by the
Worker); contract/sampling-vectors.json holds cases that both must reproduce
exactly. Keep the float64 operations in the same order as the TypeScript and
frame picking in integer arithmetic, so results are identical, not close.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

# Tolerance for clip boundaries: frame times computed as i / fps carry rounding.
EPS = 1e-9


class SamplingError(ValueError):
    pass


@dataclass(frozen=True)
class VideoTimeline:
    """A video as the sampler sees it: presentation times of its frames, in order."""

    duration: float
    frame_times: list[float]
    keyframes: list[int] = field(default_factory=list)  # indices into frame_times


@dataclass(frozen=True)
class SampledFrame:
    index: int  # index into frame_times of the frame to use
    time: float
    target: float  # the time the uniform selector aimed at


@dataclass(frozen=True)
class SampledClip:
    index: int
    start: float
    end: float
    frames: list[SampledFrame]


def frame_times_from_rate(frame_count: int, fps: float) -> list[float]:
    return [i / fps for i in range(frame_count)]


def clip_starts(duration: float, plan: dict) -> list[float]:
    """Clip start times (seconds) with PyTorchVideo semantics."""
    c = float(plan["clipDuration"])
    sampler = plan["clipSampler"]
    if sampler["kind"] == "constant_clips_per_video":
        # ConstantClipsPerVideoSampler: clip k starts at k·max(D−c,0)/max(N−1,1).
        n = int(sampler["clipsPerVideo"])
        max_start = max(duration - c, 0.0)
        return [(k * max_start) / max(n - 1, 1) for k in range(n)]
    if sampler["kind"] != "uniform":
        raise SamplingError(f"unknown clip sampler {sampler['kind']!r}")
    # UniformClipSampler: windows every `stride` seconds while the window fits;
    # a video shorter than one clip still gives one clip.
    stride = float(sampler.get("stride", c))
    starts: list[float] = []
    k = 0
    while k * stride + c <= duration + EPS:
        starts.append(k * stride)
        k += 1
    if not starts:
        return [0.0]
    if sampler.get("backpadLast", False) and starts[-1] + c < duration - EPS:
        starts.append(duration - c)
    return starts


def uniform_indices(m: int, t: int) -> list[int]:
    """UniformTemporalSubsample over m candidates: floor(i·(m−1)/(T−1)); repeats when m < T."""
    if t == 1:
        return [0]
    return [(i * (m - 1)) // (t - 1) for i in range(t)]


def _nearest_keyframe(times: list[float], keyframes: list[int], time: float) -> int:
    # Ties go to the earlier keyframe (strict < keeps the first).
    best = keyframes[0]
    best_dist = abs(times[best] - time)
    for k in keyframes:
        d = abs(times[k] - time)
        if d < best_dist:
            best, best_dist = k, d
    return best


def sample_frames(video: VideoTimeline, plan: dict) -> list[SampledClip]:
    """Which frame feeds each slot of each clip, for one video."""
    times = video.frame_times
    if not times:
        raise SamplingError("the video has no frames")
    if not (video.duration > 0) or math.isnan(video.duration):
        raise SamplingError(f"video duration must be > 0, got {video.duration}")
    keyframes = list(video.keyframes)
    selector = plan["frameSelector"]
    if selector == "keyframe" and not keyframes:
        raise SamplingError("the plan selects keyframes but the video has none")
    t = int(plan["frames"])
    clips = []
    for index, start in enumerate(clip_starts(video.duration, plan)):
        end = start + float(plan["clipDuration"])
        candidates = [i for i, ti in enumerate(times) if ti >= start - EPS and ti < end - EPS]
        if not candidates:
            # A clip past the last frame falls back to the frame nearest its start.
            nearest = 0
            for i in range(1, len(times)):
                if abs(times[i] - start) < abs(times[nearest] - start):
                    nearest = i
            candidates = [nearest]
        frames = []
        for j in uniform_indices(len(candidates), t):
            target = times[candidates[j]]
            chosen = _nearest_keyframe(times, keyframes, target) if selector == "keyframe" else candidates[j]
            frames.append(SampledFrame(index=chosen, time=times[chosen], target=target))
        clips.append(SampledClip(index=index, start=start, end=end, frames=frames))
    return clips
