"""ClipDataset: labeled videos -> transformed (C, T, H, W) clips, frames chosen by the manifest's sampling plan."""
from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from videotrain.data.video import VideoInfo, VideoReadError, decode_frames, probe_video
from videotrain.sampling import SampledClip, SamplingError, VideoTimeline, sample_frames

# Train mode: how many other videos to try when a video fails to decode after passing the probe.
_MAX_RETRIES = 10


class SkippedVideoWarning(UserWarning):
    pass


def _timeline(info: VideoInfo) -> VideoTimeline:
    return VideoTimeline(duration=info.duration, frame_times=info.frame_times, keyframes=info.keyframes)


class ClipDataset(Dataset):
    """Clips of labeled videos, as the model sees them.

    eval mode: one item per (video, clip) of the sampling plan, in order;
    train mode: one item per video, a clip of plan["clipDuration"] seconds at a
    random start in [0, max(D − c, 0)], frames picked like in eval mode
    (its clip_index is -1).
    Items are dicts: video (transformed clip), label, video_index, clip_index, path.

    Every video is probed in __init__; unreadable ones (and ones the plan
    cannot sample, e.g. keyframe selection without keyframe information) are
    dropped with a SkippedVideoWarning and listed in `skipped` as (path, reason).

    Randomness (train clip starts and random transforms) is a function of
    (seed, epoch, index): call set_epoch(e) each epoch. DataLoader workers get
    a fresh copy each epoch unless persistent_workers=True, in which case
    set_epoch does not reach them.
    """

    def __init__(
        self,
        items: Sequence[tuple[str, int]],
        plan: dict,
        transform: Callable[[torch.Tensor], torch.Tensor] | None,
        *,
        mode: str = "eval",
        seed: int = 0,
        backend: str | None = None,
        pair_transform: Callable[[torch.Tensor, int], tuple[torch.Tensor, int]] | None = None,
    ):
        if mode not in ("eval", "train"):
            raise ValueError(f"mode must be 'eval' or 'train', got {mode!r}")
        self.plan = plan
        self.transform = transform
        self.pair_transform = pair_transform
        self.mode = mode
        self.seed = seed
        self.backend = backend
        self.epoch = 0
        self.videos: list[tuple[str, int, VideoInfo]] = []
        self.skipped: list[tuple[str, str]] = []  # (path, reason)
        # eval: (video index, clip) for every clip of every video
        self.clips: list[tuple[int, SampledClip]] = []
        for path, label in items:
            try:
                info = probe_video(path, backend)
            except VideoReadError as e:
                self._skip(str(path), e.reason)
                continue
            if plan["frameSelector"] == "keyframe" and not info.keyframes:
                self._skip(str(path), "the plan selects keyframes but they are unknown (the OpenCV backend cannot read them; use PyAV)")
                continue
            try:
                clips = sample_frames(_timeline(info), plan)
            except SamplingError as e:
                self._skip(str(path), str(e))
                continue
            self.videos.append((str(path), int(label), info))
            if mode == "eval":
                self.clips.extend((len(self.videos) - 1, clip) for clip in clips)
        if not self.videos:
            raise ValueError(f"no readable videos among {len(items)} items ({len(self.skipped)} skipped)")

    def _skip(self, path: str, reason: str) -> None:
        if any(p == path for p, _ in self.skipped):  # listed twice, or failing again in train mode
            return
        warnings.warn(f"skipping {path}: {reason}", SkippedVideoWarning, stacklevel=3)
        self.skipped.append((path, reason))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.clips) if self.mode == "eval" else len(self.videos)

    def _random_clip(self, info: VideoInfo, rng: np.random.Generator) -> SampledClip:
        # The plan's own selection on the window [start, start + c): shift the
        # timeline so the window starts at 0 and ask the sampler for one clip.
        c = float(self.plan["clipDuration"])
        start = float(rng.uniform(0.0, max(info.duration - c, 0.0)))
        shifted = VideoTimeline(duration=c, frame_times=[t - start for t in info.frame_times], keyframes=info.keyframes)
        plan = {**self.plan, "clipSampler": {"kind": "constant_clips_per_video", "clipsPerVideo": 1}}
        clip = sample_frames(shifted, plan)[0]
        return dataclasses.replace(clip, index=-1, start=start, end=start + c)  # index -1: not one of the plan's clips

    def _load(self, video_index: int, clip: SampledClip) -> dict:
        path, label, info = self.videos[video_index]
        frames = decode_frames(path, [f.index for f in clip.frames], backend=self.backend, info=info)
        video = torch.from_numpy(frames).permute(3, 0, 1, 2)  # (T, H, W, C) -> (C, T, H, W)
        if self.transform is not None:
            video = self.transform(video)
        if self.pair_transform is not None:
            video, label = self.pair_transform(video, label)
        return {"video": video, "label": label, "video_index": video_index, "clip_index": clip.index, "path": path}

    def __getitem__(self, index: int) -> dict:
        if self.mode == "eval":
            # Eval results must cover exactly the listed clips: a decode failure here is an error.
            video_index, clip = self.clips[index]
            return self._load(video_index, clip)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        video_index = index
        failed: set[int] = set()
        while True:
            # Random transforms draw from torch's global RNG: seed it per item, leave the caller's state alone.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(rng.integers(2**63)))
                try:
                    return self._load(video_index, self._random_clip(self.videos[video_index][2], rng))
                except VideoReadError as e:
                    # Passed the probe but fails to decode: train on another video rather than stop the run.
                    self._skip(e.path, e.reason)
            failed.add(video_index)
            others = [i for i in range(len(self.videos)) if i not in failed]
            if len(failed) > _MAX_RETRIES or not others:
                raise VideoReadError(self.videos[index][0], f"this and {len(failed) - 1} other videos failed to decode")
            video_index = others[int(rng.integers(len(others)))]
