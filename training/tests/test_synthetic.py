import json
import os
import re
import subprocess
import sys

import av
import cv2
import numpy as np
import pytest

from videotrain.data import synthetic
from videotrain.data.synthetic import (
    CLASSES,
    GOPS,
    HFLIP_LABEL_PERMUTATION,
    SPRITE,
    clip_spec,
    encode_mp4,
    generate_dataset,
    object_track,
    render_clip,
    sprite_matrix,
)
from videotrain.data.video import decode_frames, probe_video


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    info = generate_dataset(out, clips_per_class_train=2, clips_per_class_val=1, seed=7, workers=2, progress=False)
    return out, info


def test_layout_lists_and_metadata(dataset):
    out, info = dataset
    assert (out / "labels.txt").read_text().splitlines() == CLASSES
    assert json.loads((out / "dataset.json").read_text()) == info
    assert info["name"] == "synthetic-motion" and info["seed"] == 7 and info["classes"] == CLASSES
    assert info["counts"] == {"train": 16, "val": 8}
    for split, per_class in (("train", 2), ("val", 1)):
        lines = (out / f"{split}.txt").read_text().splitlines()
        assert len(lines) == per_class * len(CLASSES)
        for line in lines:
            path, label = line.split()
            # Folder-per-class layout agrees with the list's label.
            m = re.fullmatch(rf"videos/(\w+)/{split}_\d{{5}}\.mp4", path)
            assert m and CLASSES.index(m.group(1)) == int(label)
            assert (out / path).stat().st_size > 1000
    assert not list(out.rglob("*.part")), "temporary files left behind"


def test_files_are_what_the_generator_asked_for(dataset):
    out, info = dataset
    for clip in info["clips"]:
        v = probe_video(out / clip["path"])
        assert (v.width, v.height, v.frame_count, v.codec) == (clip["width"], clip["height"], clip["frames"], "h264")
        assert v.fps == clip["fps"]
        assert v.frame_times == [i / clip["fps"] for i in range(clip["frames"])]
        assert v.keyframes == list(range(0, clip["frames"], clip["gop"]))
        assert 2.0 - 1 / clip["fps"] <= v.duration <= 4.0 + 1 / clip["fps"]
        assert clip["width"] % 2 == 0 and clip["height"] % 2 == 0


@pytest.mark.parametrize("profile", ["high", "baseline"])
@pytest.mark.parametrize("faststart", [False, True])
def test_encoder_profiles_gops_and_moov_position(tmp_path, profile, faststart):
    spec = dict(clip_spec(0, "train", 0, 0), width=64, height=48, fps=24, frames=31)
    frames = render_clip(spec)
    for gop in GOPS:
        path = tmp_path / f"{profile}_{gop}.mp4"
        encode_mp4(frames, path, fps=24, gop=gop, profile=profile, faststart=faststart)
        assert probe_video(path).keyframes == list(range(0, 31, gop))
        data = path.read_bytes()
        assert (data.index(b"moov") < data.index(b"mdat")) == faststart
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            assert s.codec_context.profile == ("High" if profile == "high" else "Constrained Baseline")
            packets = [p for p in c.demux(s) if p.size]
            # B-frames show up as decode order != presentation order.
            reordered = [p.pts for p in packets] != sorted(p.pts for p in packets)
            assert reordered == (profile == "high" and gop > 2)


def test_same_seed_same_frames_other_seed_other_frames(tmp_path):
    a = generate_dataset(tmp_path / "a", clips_per_class_train=1, clips_per_class_val=0, seed=3, workers=1, progress=False)
    b = generate_dataset(tmp_path / "b", clips_per_class_train=1, clips_per_class_val=0, seed=3, workers=2, progress=False)
    c = generate_dataset(tmp_path / "c", clips_per_class_train=1, clips_per_class_val=0, seed=4, workers=1, progress=False)
    assert a == b
    for clip in a["clips"]:
        pa, pb = tmp_path / "a" / clip["path"], tmp_path / "b" / clip["path"]
        assert pa.read_bytes() == pb.read_bytes()
    path = a["clips"][0]["path"]
    n = a["clips"][0]["frames"]
    fa = decode_frames(tmp_path / "a" / path, list(range(n)))
    assert np.array_equal(fa, decode_frames(tmp_path / "b" / path, list(range(n))))
    assert (tmp_path / "c" / path).read_bytes() != (tmp_path / "a" / path).read_bytes()
    # Clips are encoded 8 per ffmpeg process; alone, the file is the same.
    spec = clip_spec(3, "train", 2, 0)
    alone = tmp_path / "alone.mp4"
    encode_mp4(render_clip(spec), alone, fps=spec["fps"], gop=spec["gop"], profile=spec["profile"], faststart=spec["faststart"])
    assert alone.read_bytes() == (tmp_path / "a" / spec["path"]).read_bytes()


def test_decoded_frames_match_rendered_frames(tmp_path):
    # RGB order, presentation order and frame mapping survive the encode/decode round trip
    # (through B-frames): decoded frame i is closest to rendered frame i, not to its neighbours.
    spec = dict(clip_spec(1, "val", 2, 1), fps=15, frames=30)  # a clip whose frames differ clearly (margin 2.3x)
    rendered = render_clip(spec).astype(np.float32)
    path = tmp_path / "x.mp4"
    encode_mp4(rendered.astype(np.uint8), path, fps=15, gop=8, profile="high", faststart=False)
    decoded = decode_frames(path, list(range(30))).astype(np.float32)
    mse = ((decoded[:, None] - rendered[None]) ** 2).mean(axis=(2, 3, 4))  # (decoded i, rendered j)
    assert list(mse.argmin(axis=1)) == list(range(30))
    assert mse.diagonal().max() < 0.25 * ((decoded - rendered[..., ::-1]) ** 2).mean()  # not BGR
    assert cv2.PSNR(decoded, rendered, 255) > 20


def test_render_is_a_function_of_the_spec():
    spec = clip_spec(5, "train", 6, 1)
    frames = render_clip(spec)
    assert frames.shape == (spec["frames"], spec["height"], spec["width"], 3) and frames.dtype == np.uint8
    assert np.array_equal(frames, render_clip(spec))
    assert clip_spec(5, "train", 6, 1) == spec
    assert clip_spec(5, "train", 6, 2) != spec and clip_spec(5, "val", 6, 1) != spec
    # Something moves (beyond the camera jitter of up to 1 px).
    assert np.abs(frames[0].astype(int) - frames[-1]).mean() > 2


def test_parameters_vary_across_clips():
    specs = [clip_spec(0, split, label, i) for split in ("train", "val") for label in range(8) for i in range(10)]
    for key, expected in [("gop", set(GOPS)), ("fps", {15, 24, 25, 30}), ("profile", {"high", "baseline"}), ("faststart", {True, False})]:
        assert {s[key] for s in specs} == expected, key
    assert len({(s["width"], s["height"]) for s in specs}) >= 6
    assert all(30 <= s["frames"] <= 120 for s in specs)


def test_sprite_matrix_orientation():
    # A dot at the sprite's right edge: rotating by +30° must move it down (clockwise on screen),
    # and size/centre must place it at centre + radius·(cos, sin) after cv2.warpAffine.
    sprite = np.zeros((SPRITE, SPRITE), np.float32)
    sprite[SPRITE // 2 - 1 : SPRITE // 2 + 1, SPRITE - 4 : SPRITE - 2] = 1.0
    for angle in (0.0, np.radians(30)):
        out = cv2.warpAffine(sprite, sprite_matrix(np.array([60.0, 50.0]), 48.0, angle), (120, 100))
        ys, xs = np.nonzero(out > 0.1)
        r = 48.0 * (SPRITE / 2 - 3) / SPRITE
        assert abs(xs.mean() - (60 + r * np.cos(angle))) < 1.5
        assert abs(ys.mean() - (50 + r * np.sin(angle))) < 1.5


@pytest.mark.parametrize("label", range(len(CLASSES)))
def test_object_tracks_follow_the_class(label):
    name = CLASSES[label]
    for seed in range(20):
        centre, size, angle = object_track(np.random.default_rng(seed), label, 60, 30, 160, 120)
        dx, dy = centre[-1] - centre[0]
        dsize, dangle = size[-1] - size[0], angle[-1] - angle[0]
        expected = {
            "move_left": dx < -40 and dy == 0,
            "move_right": dx > 40 and dy == 0,
            "move_up": dy < -30 and dx == 0,
            "move_down": dy > 30 and dx == 0,
            "zoom_in": size[-1] > 1.6 * size[0],
            "zoom_out": size[0] > 1.6 * size[-1],
            "rotate_cw": dangle > np.radians(45),
            "rotate_ccw": dangle < -np.radians(45),
        }[name]
        assert expected, (name, seed, dx, dy, dsize, dangle)
        # Only the class's own motion: everything else stays put.
        if not name.startswith("move_"):
            assert dx == 0 and dy == 0
        if not name.startswith("zoom_"):
            assert dsize == 0
        if not name.startswith("rotate_"):
            assert dangle == 0
        # The centre stays inside the frame.
        assert (centre >= 0).all() and (centre[:, 0] <= 160).all() and (centre[:, 1] <= 120).all()


def test_hflip_permutation_swaps_horizontal_directions():
    swap = {"left": "right", "right": "left", "cw": "ccw", "ccw": "cw"}
    for i, name in enumerate(CLASSES):
        prefix, _, what = name.partition("_")
        assert CLASSES[HFLIP_LABEL_PERMUTATION[i]] == f"{prefix}_{swap.get(what, what)}"


def _run_cli(args, env=None):
    return subprocess.run([sys.executable, "-m", "videotrain", "make-dataset", *args], capture_output=True, text=True, env=env)


def test_cli_reports_speed(tmp_path):
    proc = _run_cli(["--out", str(tmp_path), "--train-per-class", "1", "--val-per-class", "0", "--seed", "2"])
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"generated 8 clips in [\d.]+ s \([\d.]+ clips/s", proc.stdout)
    assert len((tmp_path / "train.txt").read_text().splitlines()) == 8


def test_cli_without_ffmpeg_names_the_package(tmp_path, monkeypatch):
    # A PATH with python but no ffmpeg.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(sys.executable, bindir / "python")
    proc = _run_cli(["--out", str(tmp_path / "out")], env={**os.environ, "PATH": str(bindir)})
    assert proc.returncode == 2
    assert "apt-get install -y ffmpeg" in proc.stderr and "Traceback" not in proc.stderr
    monkeypatch.setenv("PATH", str(bindir))
    with pytest.raises(synthetic.FFmpegNotFoundError, match="Debian's ffmpeg package"):
        generate_dataset(tmp_path / "out2", clips_per_class_train=1, clips_per_class_val=0, progress=False)
    assert not (tmp_path / "out2").exists()  # checked before any work


def test_encoder_failure_names_the_file_and_leaves_nothing(tmp_path):
    frames = np.zeros((5, 48, 65, 3), np.uint8)  # odd width: yuv420p cannot hold it
    out = tmp_path / "odd.mp4"
    with pytest.raises(RuntimeError, match=r"ffmpeg failed \(exit \d+\) encoding .*odd\.mp4: .*divisible by 2"):
        encode_mp4(frames, out, fps=25, gop=4, profile="high", faststart=False)
    assert list(tmp_path.iterdir()) == []


def test_rerun_with_fewer_clips_removes_stale_ones(tmp_path):
    generate_dataset(tmp_path, clips_per_class_train=2, clips_per_class_val=0, seed=1, progress=False)
    (tmp_path / "videos" / "move_up" / "mine.mp4").write_bytes(b"x")  # not ours: kept
    generate_dataset(tmp_path, clips_per_class_train=1, clips_per_class_val=0, seed=1, progress=False)
    files = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "videos").rglob("*.mp4"))
    assert files == sorted([f"videos/{c}/train_00000.mp4" for c in CLASSES] + ["videos/move_up/mine.mp4"])
    with pytest.raises(ValueError, match="at least 1 train clip"):
        generate_dataset(tmp_path, clips_per_class_train=0, clips_per_class_val=0, progress=False)
