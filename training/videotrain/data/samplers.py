"""Clip samplers under PyTorchVideo's names: where in a video the clips start.

make_clip_sampler("random" | "uniform" | "constant_clips_per_video", ...)
takes PyTorchVideo's arguments. The uniform and constant-clips samplers are
the manifest plan's (sampling.clip_starts, the function the Worker shares
through contract/sampling-vectors.json); the random one is what training
draws a clip with. Which frames of a clip are used (uniform, or the nearest
keyframe) is the plan's frameSelector, applied by sampling.sample_frames.

Unlike PyTorchVideo's stateful samplers (called once per clip with the last
clip's end), clips(duration) returns a video's clips at once.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from videotrain.sampling import clip_starts


class ClipInfo(NamedTuple):
    clip_start_sec: float
    clip_end_sec: float
    clip_index: int


class RandomClipSampler:
    """One clip of clip_duration at a start uniform in [0, max(duration − clip_duration, 0)]."""

    kind = "random"

    def __init__(self, clip_duration: float):
        _check_duration(clip_duration)
        self.clip_duration = float(clip_duration)

    def clips(self, duration: float, rng: np.random.Generator) -> list[ClipInfo]:
        start = float(rng.uniform(0.0, max(duration - self.clip_duration, 0.0)))
        return [ClipInfo(start, start + self.clip_duration, 0)]


class _PlanSampler:
    """A sampler that a manifest plan can express; clips follow sampling.clip_starts."""

    kind = ""

    def __init__(self, clip_duration: float):
        _check_duration(clip_duration)
        self.clip_duration = float(clip_duration)

    def plan(self) -> dict:
        raise NotImplementedError

    def clips(self, duration: float, rng: np.random.Generator | None = None) -> list[ClipInfo]:
        plan = {"clipSampler": self.plan(), "clipDuration": self.clip_duration}
        return [ClipInfo(s, s + self.clip_duration, i) for i, s in enumerate(clip_starts(duration, plan))]


class UniformClipSampler(_PlanSampler):
    """Windows every `stride` seconds (default: back to back) while they fit; backpad_last adds one ending at the video's end."""

    kind = "uniform"

    def __init__(self, clip_duration: float, stride: float | None = None, backpad_last: bool = False):
        super().__init__(clip_duration)
        if stride is not None and not stride > 0:
            raise ValueError(f"stride must be > 0 seconds, got {stride}")
        self.stride, self.backpad_last = stride, backpad_last

    def plan(self) -> dict:
        entry: dict = {"kind": self.kind}
        if self.stride is not None:
            entry["stride"] = self.stride
        if self.backpad_last:
            entry["backpadLast"] = True
        return entry


class ConstantClipsPerVideoSampler(_PlanSampler):
    """clips_per_video clips spread evenly: clip k starts at k·max(D − c, 0)/max(N − 1, 1)."""

    kind = "constant_clips_per_video"

    def __init__(self, clip_duration: float, clips_per_video: int):
        super().__init__(clip_duration)
        if int(clips_per_video) != clips_per_video or clips_per_video < 1:
            raise ValueError(f"clips_per_video must be a positive integer, got {clips_per_video}")
        self.clips_per_video = int(clips_per_video)

    def plan(self) -> dict:
        return {"kind": self.kind, "clipsPerVideo": self.clips_per_video}


ClipSampler = RandomClipSampler | UniformClipSampler | ConstantClipsPerVideoSampler
SAMPLERS = {s.kind: s for s in (RandomClipSampler, UniformClipSampler, ConstantClipsPerVideoSampler)}


def _check_duration(clip_duration: float) -> None:
    if not clip_duration > 0:
        raise ValueError(f"clip_duration must be > 0 seconds, got {clip_duration}")


def make_clip_sampler(sampling_type: str, *args, **kwargs) -> ClipSampler:
    """PyTorchVideo's factory: make_clip_sampler("uniform", 2.0), make_clip_sampler("constant_clips_per_video", 2.0, 10)."""
    if sampling_type not in SAMPLERS:
        raise ValueError(f"unknown clip sampler {sampling_type!r}; expected one of {', '.join(SAMPLERS)}")
    return SAMPLERS[sampling_type](*args, **kwargs)

