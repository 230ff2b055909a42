import pickle

import numpy as np
import pytest

from videotrain.data.synthetic import clip_spec, encode_mp4, render_clip
from videotrain.data.video import VideoReadError, available_backends, decode_frames, probe_video

# (name, fps, frames, gop, profile, faststart, width, height)
CASES = [
    ("high_g4", 24, 50, 4, "high", False, 96, 72),
    ("high_g15_fast", 30, 64, 15, "high", True, 128, 96),
    ("base_g8", 25, 41, 8, "baseline", True, 96, 128),
    ("high_g30", 15, 45, 30, "high", False, 160, 120),
]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    out = tmp_path_factory.mktemp("video")
    result = {}
    for k, (name, fps, n, gop, profile, faststart, w, h) in enumerate(CASES):
        spec = dict(clip_spec(11, "train", k, 0), fps=fps, frames=n, width=w, height=h)
        path = out / f"{name}.mp4"
        encode_mp4(render_clip(spec), path, fps=fps, gop=gop, profile=profile, faststart=faststart)
        result[name] = (path, fps, n, gop, w, h)
    return result


def test_both_backends_are_installed():
    assert available_backends() == ["pyav", "opencv"]


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_probe_reports_what_was_encoded(clips, name):
    path, fps, n, gop, w, h = clips[name]
    info = probe_video(path)
    assert (info.width, info.height, info.fps, info.frame_count, info.codec) == (w, h, fps, n, "h264")
    assert info.frame_times == [i / fps for i in range(n)]  # exact: the sampler's frame_times_from_rate
    assert info.duration == n / fps
    assert info.keyframes == list(range(0, n, gop))
    assert info.path == str(path)


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_pyav_and_opencv_agree_bit_for_bit(clips, name):
    path, fps, n, *_ = clips[name]
    a, b = probe_video(path, "pyav"), probe_video(path, "opencv")
    assert (a.width, a.height, a.frame_count, a.frame_times, a.duration, a.codec) == (
        b.width,
        b.height,
        b.frame_count,
        b.frame_times,
        b.duration,
        b.codec,
    )
    assert b.keyframes == []  # OpenCV cannot see them
    all_frames = list(range(n))
    fa, fb = decode_frames(path, all_frames, backend="pyav"), decode_frames(path, all_frames, backend="opencv")
    assert fa.shape == (n, a.height, a.width, 3) and fa.dtype == np.uint8
    assert np.array_equal(fa, fb)


@pytest.mark.parametrize("backend", ["pyav", "opencv"])
def test_decode_order_repeats_and_seeks(clips, backend):
    path, fps, n, gop, *_ = clips["high_g4"]
    everything = decode_frames(path, list(range(n)), backend=backend)
    # Any order, repeats, frames in distant GOPs (the PyAV path seeks), keyframes only, the last frame.
    for indices in ([n - 1, 0, 5, 5, 23], [0, 4, 8, 12], [17, 45, 46], [n - 1], list(range(n))[::-1], [2, 2, 2]):
        got = decode_frames(path, indices, backend=backend)
        assert np.array_equal(got, everything[indices]), indices
    # Consecutive frames really differ, so a wrong mapping cannot pass.
    assert all(not np.array_equal(everything[i], everything[i + 1]) for i in range(n - 1))
    assert decode_frames(path, [], backend=backend).shape == (0, 72, 96, 3)


def test_decode_reuses_probe_info(clips):
    path, *_ = clips["high_g15_fast"]
    info = probe_video(path)
    assert np.array_equal(decode_frames(path, [3, 40], info=info), decode_frames(path, [3, 40]))


@pytest.mark.parametrize("backend", ["pyav", "opencv"])
def test_out_of_range_index(clips, backend):
    path, fps, n, *_ = clips["base_g8"]
    with pytest.raises(IndexError, match=rf"frame index {n} out of range \(the video has {n} frames\)"):
        decode_frames(path, [0, n], backend=backend)
    with pytest.raises(IndexError):
        decode_frames(path, [-1], backend=backend)


def _bad_files(tmp_path, clips):
    good = clips["high_g4"][0].read_bytes()  # moov at the end
    fast = clips["high_g15_fast"][0].read_bytes()  # moov first
    files = {
        "missing": (tmp_path / "missing.mp4", None),
        "empty": (tmp_path / "empty.mp4", b""),
        "text": (tmp_path / "notes.mp4", b"this is not a video\n" * 50),
        "truncated_moov_at_end": (tmp_path / "trunc_end.mp4", good[: len(good) // 2]),
        "truncated_faststart": (tmp_path / "trunc_fast.mp4", fast[: len(fast) * 2 // 3]),
    }
    for path, data in files.values():
        if data is not None:
            path.write_bytes(data)
    (tmp_path / "dir.mp4").mkdir()
    files["directory"] = (tmp_path / "dir.mp4", None)
    return files


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("missing", "no such file"),
        ("empty", "empty file"),
        ("directory", "is a directory"),
        ("text", "not a readable video"),
        ("truncated_moov_at_end", "not a readable video"),
        ("truncated_faststart", "truncated: only"),
    ],
)
def test_unreadable_files_raise_video_read_error(tmp_path, clips, kind, reason):
    path, _ = _bad_files(tmp_path, clips)[kind]
    with pytest.raises(VideoReadError, match=reason) as e:
        probe_video(path)
    assert e.value.path == str(path) and str(e.value).startswith(f"{path}: ")


def test_opencv_backend_errors(tmp_path, clips):
    files = _bad_files(tmp_path, clips)
    with pytest.raises(VideoReadError, match="not a readable video"):
        probe_video(files["text"][0], "opencv")
    # OpenCV trusts the header of a truncated faststart file; decoding past the cut fails cleanly.
    path = files["truncated_faststart"][0]
    info = probe_video(path, "opencv")
    with pytest.raises(VideoReadError, match="could not be decoded"):
        decode_frames(path, [info.frame_count - 1], backend="opencv")


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown video backend 'gstreamer'"):
        probe_video("x.mp4", backend="gstreamer")


def test_video_read_error_pickles():
    e = pickle.loads(pickle.dumps(VideoReadError("/a/b.mp4", "truncated")))
    assert (e.path, e.reason, str(e)) == ("/a/b.mp4", "truncated", "/a/b.mp4: truncated")
