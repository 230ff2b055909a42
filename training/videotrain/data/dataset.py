"""ClipDataset: labeled videos -> transformed (C, T, H, W) clips, frames chosen by the manifest's sampling plan."""
from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from videotrain.data.labeled import LabeledVideo
from videotrain.data.samplers import RandomClipSampler
from videotrain.data.video import VideoInfo, VideoReadError, decode_frames, probe_videos
from videotrain.sampling import EPS, SampledClip, SamplingError, VideoTimeline, sample_frames

# Train mode: how many other videos to try when a video fails to decode after passing the probe.
_MAX_RETRIES = 10
# Skip warnings printed per dataset; a big dataset with many missing files gets one summary line after these.
_MAX_WARNINGS = 20


class SkippedVideoWarning(UserWarning):
    pass


def _timeline(info: VideoInfo, video: LabeledVideo) -> tuple[VideoTimeline, int]:
    """The part of the video its item allows, as the sampler sees it, and the index of its first frame."""
    if video.start is None and video.end is None:
        return VideoTimeline(duration=info.duration, frame_times=info.frame_times, keyframes=info.keyframes), 0
    start = 0.0 if video.start is None else float(video.start)
    end = info.duration if video.end is None else min(float(video.end), info.duration)
    inside = [i for i, t in enumerate(info.frame_times) if start - EPS <= t < end - EPS]
    if not inside:
        raise SamplingError(f"no frames in its time window [{start:g}, {end:g}) s (the video lasts {info.duration:.3f} s)")
    first, last = inside[0], inside[-1]
    times = [info.frame_times[i] - start for i in inside]
    keyframes = [k - first for k in info.keyframes if first <= k <= last]
    return VideoTimeline(duration=end - start, frame_times=times, keyframes=keyframes), first


class ClipDataset(Dataset):
    """Clips of labeled videos, as the model sees them.

    Items: (path, label) pairs or LabeledVideo(path, label, start, end), whose
    clips come only from [start, end) seconds of the file.

    eval mode: one item per (video, clip) of the sampling plan, in order;
    train mode: one item per video, a clip of plan["clipDuration"] seconds
    drawn by RandomClipSampler, frames picked like in eval mode (its
    clip_index is -1).
    Items are dicts: video (transformed clip), label, video_index, clip_index, path.

    Every video is probed in __init__ (in probe_workers processes when > 1); unreadable ones (and ones the plan
    cannot sample, e.g. keyframe selection without keyframe information) are
    dropped with a SkippedVideoWarning and listed in `skipped` as (path, reason).
    A video that passes the probe but fails to decode is replaced by another
    random video in train mode; in eval mode it raises (on_decode_error="raise",
    for evaluations that must cover every listed clip) or yields a marker that
    collate_clips drops (on_decode_error="skip", for validation during
    training). Either way the item carries "skipped": [(path, reason)], which
    ClipLoader moves into the main process's `skipped` (DataLoader workers
    hold copies of the dataset).

    Randomness (train clip starts and random transforms) is a function of
    (seed, epoch, index): call set_epoch(e) each epoch. The epoch lives in
    shared memory, so it also reaches persistent DataLoader workers.
    """

    def __init__(
        self,
        items: Sequence[tuple[str, int] | LabeledVideo],
        plan: dict,
        transform: Callable[[torch.Tensor], torch.Tensor] | None,
        *,
        mode: str = "eval",
        seed: int = 0,
        backend: str | None = None,
        pair_transform: Callable[[torch.Tensor, int], tuple[torch.Tensor, int]] | None = None,
        on_decode_error: str = "raise",
        probe_workers: int = 0,
    ):
        if mode not in ("eval", "train"):
            raise ValueError(f"mode must be 'eval' or 'train', got {mode!r}")
        if on_decode_error not in ("raise", "skip"):
            raise ValueError(f"on_decode_error must be 'raise' or 'skip', got {on_decode_error!r}")
        self.plan = plan
        self.transform = transform
        self.pair_transform = pair_transform
        self.mode = mode
        self.seed = seed
        self.backend = backend
        self.on_decode_error = on_decode_error
        self.clip_sampler = RandomClipSampler(plan["clipDuration"])
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()
        self.videos: list[tuple[str, int, VideoInfo]] = []
        # Per video: its (possibly windowed) timeline and the file index of the timeline's frame 0.
        self.timelines: list[tuple[VideoTimeline, int]] = []
        self.skipped: list[tuple[str, str]] = []  # (path, reason)
        # eval: (video index, clip) for every clip of every video
        self.clips: list[tuple[int, SampledClip]] = []
        videos = [LabeledVideo(*item) for item in items]
        probes = probe_videos([str(v.path) for v in videos], backend, probe_workers)
        for video, info in zip(videos, probes):
            path = str(video.path)
            if isinstance(info, VideoReadError):
                self._skip(path, info.reason)
                continue
            if plan["frameSelector"] == "keyframe" and not info.keyframes:
                self._skip(path, "the plan selects keyframes but they are unknown (the OpenCV backend cannot read them; use PyAV)")
                continue
            try:
                timeline, offset = _timeline(info, video)
                clips = sample_frames(timeline, plan)
            except SamplingError as e:
                self._skip(path, str(e))
                continue
            self.videos.append((path, int(video.label), info))
            self.timelines.append((timeline, offset))
            if mode == "eval":
                self.clips.extend((len(self.videos) - 1, clip) for clip in clips)
        if len(self.skipped) > _MAX_WARNINGS:
            warnings.warn(
                f"... {len(self.skipped) - _MAX_WARNINGS} more unreadable videos skipped ({len(self.skipped)} of {len(items)} in all)",
                SkippedVideoWarning,
                stacklevel=2,
            )
        if not self.videos:
            raise ValueError(f"no readable videos among {len(items)} items ({len(self.skipped)} skipped)")

    def _skip(self, path: str, reason: str) -> None:
        if self.note_skipped(path, reason) and len(self.skipped) <= _MAX_WARNINGS:
            warnings.warn(f"skipping {path}: {reason}", SkippedVideoWarning, stacklevel=3)

    def note_skipped(self, path: str, reason: str) -> bool:
        """Record a skipped video once (it may be listed twice, or fail again); True if it was new."""
        if any(p == path for p, _ in self.skipped):
            return False
        self.skipped.append((path, reason))
        return True

    @property
    def epoch(self) -> int:
        return int(self._epoch)

    def set_epoch(self, epoch: int) -> None:
        self._epoch.fill_(epoch)

    def __len__(self) -> int:
        return len(self.clips) if self.mode == "eval" else len(self.videos)

    def _random_clip(self, video_index: int, rng: np.random.Generator) -> SampledClip:
        # The plan's own selection on the window [start, start + c): shift the
        # timeline so the window starts at 0 and ask the sampler for one clip.
        timeline, _ = self.timelines[video_index]
        start, end, _ = self.clip_sampler.clips(timeline.duration, rng)[0]
        c = self.clip_sampler.clip_duration
        shifted = VideoTimeline(duration=c, frame_times=[t - start for t in timeline.frame_times], keyframes=timeline.keyframes)
        plan = {**self.plan, "clipSampler": {"kind": "constant_clips_per_video", "clipsPerVideo": 1}}
        clip = sample_frames(shifted, plan)[0]
        return dataclasses.replace(clip, index=-1, start=start, end=end)  # index -1: not one of the plan's clips

    def _load(self, video_index: int, clip: SampledClip) -> dict:
        path, label, info = self.videos[video_index]
        offset = self.timelines[video_index][1]
        frames = decode_frames(path, [f.index + offset for f in clip.frames], backend=self.backend, info=info)
        video = torch.from_numpy(frames).permute(3, 0, 1, 2)  # (T, H, W, C) -> (C, T, H, W)
        if self.transform is not None:
            video = self.transform(video)
        if self.pair_transform is not None:
            video, label = self.pair_transform(video, label)
        return {"video": video, "label": label, "video_index": video_index, "clip_index": clip.index, "path": path}

    def __getitem__(self, index: int) -> dict:
        if self.mode == "eval":
            video_index, clip = self.clips[index]
            try:
                return self._load(video_index, clip)
            except VideoReadError as e:
                if self.on_decode_error == "raise":  # e.g. an evaluation that must cover exactly the listed clips
                    raise
                self._skip(e.path, e.reason)
                return {"skipped": [(e.path, e.reason)]}
        rng = np.random.default_rng([self.seed, self.epoch, index])
        video_index = index
        failed: set[int] = set()
        skipped: list[tuple[str, str]] = []
        while True:
            # Random transforms draw from torch's global RNG: seed it per item, leave the caller's state alone.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(rng.integers(2**63)))
                try:
                    item = self._load(video_index, self._random_clip(video_index, rng))
                    return {**item, "skipped": skipped} if skipped else item
                except VideoReadError as e:
                    # Passed the probe but fails to decode: train on another video rather than stop the run.
                    self._skip(e.path, e.reason)
                    skipped.append((e.path, e.reason))
            failed.add(video_index)
            others = [i for i in range(len(self.videos)) if i not in failed]
            if len(failed) > _MAX_RETRIES or not others:
                raise VideoReadError(self.videos[index][0], f"this and {len(failed) - 1} other videos failed to decode")
            video_index = others[int(rng.integers(len(others)))]


def collate_clips(items: list[dict]) -> dict:
    """default_collate of the clips that loaded, plus "skipped": the (path, reason) reports of all items."""
    skipped = [s for item in items for s in item.get("skipped", ())]
    loaded = [{k: v for k, v in item.items() if k != "skipped"} for item in items if "video" in item]
    batch = default_collate(loaded) if loaded else {}
    batch["skipped"] = skipped
    return batch


class ClipLoader:
    """Iterates a DataLoader (with collate_fn=collate_clips) over a ClipDataset.

    Moves the batches' skip reports into the main process's dataset.skipped
    and leaves out batches in which no clip loaded.
    """

    def __init__(self, loader: DataLoader):
        if loader.collate_fn is not collate_clips:
            raise ValueError("ClipLoader needs a DataLoader built with collate_fn=collate_clips")
        self.loader = loader
        self.dataset: ClipDataset = loader.dataset

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[dict]:
        for batch in self.loader:
            for path, reason in batch.pop("skipped"):
                self.dataset.note_skipped(path, reason)
            if "video" in batch:
                yield batch


def skipped_report(**datasets: ClipDataset) -> dict:
    """The run summary's account of skipped videos: {"count", "videos": [{split, path, reason}]}."""
    videos = [{"split": split, "path": p, "reason": r} for split, ds in datasets.items() for p, r in ds.skipped]
    return {"count": len(videos), "videos": videos}
