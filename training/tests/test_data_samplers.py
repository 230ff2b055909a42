"""Clip samplers under PyTorchVideo's names, against PyTorchVideo's semantics and the Worker's shared vectors."""
import json
from pathlib import Path

import numpy as np
import pytest

from videotrain.data.samplers import (
    ConstantClipsPerVideoSampler,
    RandomClipSampler,
    UniformClipSampler,
    make_clip_sampler,
)
from videotrain.sampling import VideoTimeline, frame_times_from_rate, sample_frames

VECTORS = json.loads((Path(__file__).resolve().parents[2] / "contract" / "sampling-vectors.json").read_text())["cases"]


def starts(sampler, duration, rng=None):
    return [(c.clip_start_sec, c.clip_end_sec, c.clip_index) for c in sampler.clips(duration, rng)]


def test_make_clip_sampler_uses_pytorchvideo_names_and_arguments():
    assert isinstance(make_clip_sampler("random", 2.0), RandomClipSampler)
    assert isinstance(make_clip_sampler("uniform", 2.0, 1.0, True), UniformClipSampler)
    s = make_clip_sampler("constant_clips_per_video", 2.0, 5)
    assert isinstance(s, ConstantClipsPerVideoSampler) and s.clips_per_video == 5
    with pytest.raises(ValueError, match="unknown clip sampler 'jitter'; expected one of random, uniform, constant_clips_per_video"):
        make_clip_sampler("jitter", 2.0)
    with pytest.raises(ValueError, match="clip_duration must be > 0"):
        make_clip_sampler("uniform", 0)
    with pytest.raises(ValueError, match="clips_per_video"):
        make_clip_sampler("constant_clips_per_video", 2.0, 0)


def test_constant_clips_per_video_spreads_clips_evenly():
    # PyTorchVideo: clip k of N starts at k·(D − c)/(N − 1).
    assert starts(ConstantClipsPerVideoSampler(2.0, 3), 10.0) == [(0.0, 2.0, 0), (4.0, 6.0, 1), (8.0, 10.0, 2)]
    assert starts(ConstantClipsPerVideoSampler(2.0, 1), 10.0) == [(0.0, 2.0, 0)]
    # A video shorter than a clip: every clip starts at 0.
    assert starts(ConstantClipsPerVideoSampler(4.0, 2), 3.0) == [(0.0, 4.0, 0), (0.0, 4.0, 1)]


def test_uniform_windows_stride_and_backpad():
    assert starts(UniformClipSampler(2.0), 7.0) == [(0.0, 2.0, 0), (2.0, 4.0, 1), (4.0, 6.0, 2)]
    assert [s for s, _, _ in starts(UniformClipSampler(2.0, stride=1.5), 7.0)] == [0.0, 1.5, 3.0, 4.5]
    # backpad_last: one more window ending at the video's end.
    assert [s for s, _, _ in starts(UniformClipSampler(2.0, backpad_last=True), 7.0)] == [0.0, 2.0, 4.0, 5.0]
    assert starts(UniformClipSampler(2.0), 1.0) == [(0.0, 2.0, 0)]  # shorter than a clip: one clip
    assert UniformClipSampler(2.0, 1.5, True).plan() == {"kind": "uniform", "stride": 1.5, "backpadLast": True}


def test_random_clip_is_uniform_in_the_valid_range_and_seeded():
    s = RandomClipSampler(2.0)
    got = [starts(s, 10.0, np.random.default_rng([4, i]))[0] for i in range(400)]
    assert all(0.0 <= a <= 8.0 and b == a + 2.0 and k == 0 for a, b, k in got)
    assert np.histogram([a for a, _, _ in got], bins=4, range=(0, 8))[0].min() > 70  # ~100 per bin
    assert starts(s, 10.0, np.random.default_rng([4, 0])) == [got[0]]
    assert starts(s, 1.5, np.random.default_rng(0))[0][0] == 0.0  # nothing to draw from


@pytest.mark.parametrize("case", [c for c in VECTORS if "expected" in c], ids=lambda c: c["name"])
def test_plan_samplers_reproduce_the_shared_vectors(case):
    """The samplers give the clip windows the Worker's vectors expect (train/serve consistency)."""
    plan, v = case["plan"], case["video"]
    entry = plan["clipSampler"]
    if entry["kind"] == "uniform":
        sampler = make_clip_sampler("uniform", plan["clipDuration"], entry.get("stride"), entry.get("backpadLast", False))
    else:
        sampler = make_clip_sampler(entry["kind"], plan["clipDuration"], entry["clipsPerVideo"])
    assert sampler.plan() == entry
    assert [(s, e) for s, e, _ in starts(sampler, v["duration"])] == [(c["start"], c["end"]) for c in case["expected"]]


def test_keyframe_selector_vectors_are_covered():
    # The keyframe selector itself is sampling.sample_frames, checked on every vector by test_contract.py;
    # make sure the shared file keeps exercising it.
    keyframe_cases = [c for c in VECTORS if c["plan"]["frameSelector"] == "keyframe" and "expected" in c]
    assert len(keyframe_cases) >= 2
    case = keyframe_cases[0]
    v = case["video"]
    times = v["frameTimes"] if "frameTimes" in v else frame_times_from_rate(v["frameCount"], v["fps"])
    clips = sample_frames(VideoTimeline(v["duration"], times, v["keyframes"]), case["plan"])
    assert all(f.index in v["keyframes"] for c in clips for f in c.frames)
