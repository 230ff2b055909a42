"""Loading clips with worker processes: corrupt and missing videos are skipped and reported, epochs reach
persistent workers, and the decoder falls back to OpenCV when PyAV does not import."""
import subprocess
import sys
import warnings
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from videotrain.data.dataset import ClipDataset, ClipLoader, SkippedVideoWarning, collate_clips
from videotrain.data.labeled import load_labeled_list
from videotrain.data.synthetic import generate_dataset
from videotrain.data.video import VideoReadError, decode_frames, probe_video, probe_videos
from videotrain.transforms import eval_transform, train_transform

torch.set_num_threads(1)

INPUT = {"frames": 4, "cropSize": 32, "shortSideSize": 36, "mean": [0.45] * 3, "std": [0.225] * 3}
PLAN = {"clipSampler": {"kind": "constant_clips_per_video", "clipsPerVideo": 2}, "clipDuration": 1.0, "frames": 4, "frameSelector": "uniform"}


def corrupt_copy(src: Path, dest: Path) -> Path:
    """Random bytes over every frame's data: the container is intact, so the probe passes, but no part of
    the H.264 stream can be decoded (a real failure mode of damaged files)."""
    with av.open(str(src)) as c:
        stream = c.streams.video[0]
        packets = [(p.pos, p.size) for p in c.demux(stream) if p.size]
    data = bytearray(src.read_bytes())
    rng = np.random.default_rng(0)
    for pos, size in packets:
        data[pos : pos + size] = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    dest.write_bytes(bytes(data))
    return dest


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    generate_dataset(root, clips_per_class_train=1, clips_per_class_val=1, seed=2, workers=2, progress=False)
    items = load_labeled_list(root / "train.txt")
    bad = root / "bad"
    bad.mkdir()
    corrupt = corrupt_copy(Path(items[0][0]), bad / "corrupt.mp4")
    return root, items, str(corrupt), str(bad / "missing.mp4")


def test_the_corrupt_file_passes_the_probe_but_not_decoding(data):
    _, _, corrupt, _ = data
    info = probe_video(corrupt)
    for backend in ("pyav", "opencv"):
        with pytest.raises(VideoReadError, match="corrupt|decod"):
            decode_frames(corrupt, [0, info.frame_count - 1], backend=backend)


def test_train_loading_with_workers_skips_and_reports_corrupt_and_missing(data):
    _, items, corrupt, missing = data
    listed = [(corrupt, 0), (missing, 1)] + items
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = ClipDataset(listed, PLAN, train_transform(INPUT), mode="train", seed=4)
    # The missing file is found at probe time, the corrupt one only when a worker decodes it.
    assert ds.skipped == [(missing, "no such file")]
    assert any(issubclass(w.category, SkippedVideoWarning) for w in caught)
    loader = ClipLoader(DataLoader(ds, batch_size=3, num_workers=2, collate_fn=collate_clips, prefetch_factor=2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the workers' copies warn on their own stderr
        batches = list(loader)
    # Every item still came: the corrupt video's item is another video, drawn at random.
    assert sum(len(b["label"]) for b in batches) == len(ds) == len(items) + 1
    assert all(b["video"].shape[1:] == (3, 4, 32, 32) and corrupt not in b["path"] for b in batches)
    # The report from the worker reached the main process's list.
    assert [p for p, _ in ds.skipped] == [missing, corrupt]
    assert "decoding failed" in ds.skipped[1][1] or "could not be decoded" in ds.skipped[1][1]
    # Same items as without workers (the replacement is drawn from (seed, epoch, index)).
    single = list(ClipLoader(DataLoader(ds, batch_size=3, num_workers=0, collate_fn=collate_clips)))
    for a, b in zip(batches, single):
        assert torch.equal(a["video"], b["video"]) and a["path"] == b["path"]


def test_eval_loading_can_skip_clips_that_fail_to_decode(data):
    _, items, corrupt, _ = data
    listed = items[:3] + [(corrupt, 5)] + items[3:5]
    with pytest.raises(VideoReadError):  # the default: evaluations cover every listed clip or fail
        list(DataLoader(ClipDataset(listed, PLAN, eval_transform(INPUT)), batch_size=4, collate_fn=collate_clips))
    ds = ClipDataset(listed, PLAN, eval_transform(INPUT), on_decode_error="skip")
    loader = ClipLoader(DataLoader(ds, batch_size=4, num_workers=2, collate_fn=collate_clips))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batches = list(loader)
    paths = [p for b in batches for p in b["path"]]
    assert len(paths) == 2 * 5 and corrupt not in paths  # the corrupt video's two clips are left out
    assert [int(i) for b in batches for i in b["video_index"]] == [0, 0, 1, 1, 2, 2, 4, 4, 5, 5]
    assert [p for p, _ in ds.skipped] == [corrupt]
    # A batch made only of failed clips is left out, not handed to the model empty.
    only_bad = ClipDataset([(corrupt, 0)], PLAN, None, on_decode_error="skip")
    with pytest.warns(SkippedVideoWarning):
        assert list(ClipLoader(DataLoader(only_bad, batch_size=2, collate_fn=collate_clips))) == []
    with pytest.raises(ValueError, match="collate_fn=collate_clips"):
        ClipLoader(DataLoader(ds, batch_size=2))


def test_set_epoch_reaches_persistent_workers(data):
    _, items, _, _ = data
    ds = ClipDataset(items[:6], PLAN, train_transform(INPUT), mode="train", seed=9)
    loader = DataLoader(ds, batch_size=3, num_workers=2, persistent_workers=True, prefetch_factor=2)
    for epoch in (0, 1, 2):
        ds.set_epoch(epoch)
        got = torch.cat([b["video"] for b in loader])
        expected = torch.stack([ds[i]["video"] for i in range(6)])
        assert torch.equal(got, expected), epoch
    assert ds.epoch == 2


def test_decoder_falls_back_to_opencv_without_pyav(data):
    root, items, _, _ = data
    script = f"""
import sys, warnings
sys.modules["av"] = None  # PyAV missing (or broken): importing it raises ImportError
from videotrain.data.video import available_backends, probe_video
from videotrain.data.dataset import ClipDataset
assert available_backends() == ["opencv"], available_backends()
info = probe_video({items[0][0]!r})
assert info.keyframes == [] and info.frame_count > 0  # OpenCV: frame times from the rate, keyframes unknown
ds = ClipDataset({items[:2]!r}, {PLAN!r}, None)
assert ds[0]["video"].shape[:2] == (3, 4)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        ClipDataset({items[:1]!r}, {{**{PLAN!r}, "frameSelector": "keyframe"}}, None)
    except ValueError:
        pass
assert "use PyAV" in str(caught[0].message)
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                       env={"PYTHONPATH": str(Path(__file__).resolve().parents[1]), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr


def test_train_clips_with_the_keyframe_selector_use_only_keyframes(data):
    """Train/serve consistency: random training clips pick frames the way the Worker does (nearest keyframe)."""
    _, items, _, _ = data
    plan = {**PLAN, "frameSelector": "keyframe"}
    ds = ClipDataset(items[:4], plan, None, mode="train", seed=1)
    for i in range(4):
        path, _, info = ds.videos[i]
        everything = decode_frames(path, list(range(info.frame_count)))
        for epoch in range(3):
            ds.set_epoch(epoch)
            frames = ds[i]["video"].permute(1, 2, 3, 0).numpy()
            # The synthetic clips' frames all differ, so each returned frame has one index.
            idx = [int(np.flatnonzero((everything == f).all(axis=(1, 2, 3)))[0]) for f in frames]
            assert set(idx) <= set(info.keyframes), (idx, info.keyframes)


def test_probing_in_worker_processes_gives_the_same_results(data):
    _, items, corrupt, missing = data
    paths = [missing] + [p for p, _ in items] + [corrupt]
    one = probe_videos(paths)
    many = probe_videos(paths, workers=2, min_parallel=0)
    assert isinstance(many[0], VideoReadError) and (many[0].path, many[0].reason) == (missing, "no such file")
    assert many[1:] == one[1:] and all(info.frame_count > 0 for info in many[1:])
    # ClipDataset passes probe_workers through; a short list stays in this process, same dataset.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        listed = [(p, 0) for p in paths]
        assert ClipDataset(listed, PLAN, None, probe_workers=2).videos == ClipDataset(listed, PLAN, None).videos
