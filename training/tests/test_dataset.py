import pickle
import shutil
import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from videotrain.data.dataset import ClipDataset, SkippedVideoWarning
from videotrain.data.labeled import LabeledListError, load_folder_per_class, load_labeled_list, load_labels
from videotrain.data.synthetic import CLASSES, HFLIP_LABEL_PERMUTATION, generate_dataset
from videotrain.data.video import VideoReadError, decode_frames
from videotrain.sampling import VideoTimeline, clip_starts, frame_times_from_rate, sample_frames
from videotrain.transforms import HorizontalFlipWithLabel, eval_transform, train_transform

torch.set_num_threads(1)

INPUT = {"frames": 4, "cropSize": 32, "shortSideSize": 36, "mean": [0.45] * 3, "std": [0.225] * 3}
PLAN = {
    "clipSampler": {"kind": "constant_clips_per_video", "clipsPerVideo": 3},
    "clipDuration": 1.5,
    "frames": 4,
    "frameSelector": "uniform",
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    info = generate_dataset(root, clips_per_class_train=1, clips_per_class_val=1, seed=5, workers=2, progress=False)
    return root, info


@pytest.fixture(scope="module")
def bad(data, tmp_path_factory):
    """A truncated MP4 (moov at the end), a truncated faststart MP4, a text file and an empty file, all named .mp4."""
    root, info = data
    out = tmp_path_factory.mktemp("bad")
    moov_last = next(c for c in info["clips"] if not c["faststart"])
    moov_first = next(c for c in info["clips"] if c["faststart"])
    files = {}
    for name, clip in (("truncated.mp4", moov_last), ("truncated_faststart.mp4", moov_first)):
        data_ = (root / clip["path"]).read_bytes()
        (out / name).write_bytes(data_[: len(data_) * 2 // 3])
        files[name] = clip["label"]
    (out / "readme.mp4").write_text("not a video\n")
    (out / "empty.mp4").write_bytes(b"")
    files.update({"readme.mp4": 0, "empty.mp4": 0})
    return [(str(out / name), label) for name, label in files.items()]


def _clip(info, path):
    return next(c for c in info["clips"] if path.endswith(c["path"]))


# ---------------------------------------------------------------- labeled lists


def test_labeled_list_paths_labels_comments(tmp_path):
    f = tmp_path / "list.txt"
    f.write_text("# header\n\nvideos/a b.mp4 3\n  /abs/x.mp4\t0  \nrel/y.mp4 12\n")
    assert load_labeled_list(f) == [(str(tmp_path / "videos/a b.mp4"), 3), ("/abs/x.mp4", 0), (str(tmp_path / "rel/y.mp4"), 12)]
    assert load_labeled_list(f, root="/data")[0] == ("/data/videos/a b.mp4", 3)


@pytest.mark.parametrize(
    "text, message",
    [
        ("a.mp4 1\nb.mp4\n", r"list\.txt:2: expected `path label`, got 'b\.mp4'"),
        ("a.mp4 1\n\nb.mp4 x\n", r"list\.txt:3: label must be a non-negative integer, got 'x'"),
        ("a.mp4 -1\n", r"list\.txt:1: label must be a non-negative integer, got '-1'"),
    ],
)
def test_labeled_list_errors_name_file_and_line(tmp_path, text, message):
    f = tmp_path / "list.txt"
    f.write_text(text)
    with pytest.raises(LabeledListError, match=message):
        load_labeled_list(f)


def test_labeled_list_missing_file(tmp_path):
    with pytest.raises(LabeledListError, match=r"nope\.txt: no such file"):
        load_labeled_list(tmp_path / "nope.txt")


def test_labels_file(tmp_path):
    f = tmp_path / "labels.txt"
    f.write_text("cat\n\ndog\n")
    assert load_labels(f) == ["cat", "dog"]
    f.write_text("cat\ndog\ncat\n")
    with pytest.raises(LabeledListError, match=r"labels\.txt:3: duplicate label 'cat' \(first on line 1\)"):
        load_labels(f)
    f.write_text("\n")
    with pytest.raises(LabeledListError, match="no labels"):
        load_labels(f)


def test_folder_per_class_matches_the_lists(data):
    root, info = data
    labels = load_labels(root / "labels.txt")
    assert labels == CLASSES
    items, got_labels = load_folder_per_class(root / "videos", labels)
    listed = load_labeled_list(root / "train.txt") + load_labeled_list(root / "val.txt")
    assert got_labels == CLASSES and sorted(items) == sorted(listed)
    # Without a label list: sorted folder names, as torchvision/PyTorchVideo.
    items, got_labels = load_folder_per_class(root / "videos")
    assert got_labels == sorted(CLASSES)
    assert all(got_labels[label] in path for path, label in items)


def test_folder_per_class_filters_and_errors(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.mp4").write_bytes(b"")
    (tmp_path / "a" / "notes.txt").write_text("")
    (tmp_path / "b" / ".hidden.mp4").write_bytes(b"")
    (tmp_path / "b" / "y.MOV").write_bytes(b"")
    items, labels = load_folder_per_class(tmp_path)
    assert labels == ["a", "b"] and items == [(str(tmp_path / "a" / "x.mp4"), 0), (str(tmp_path / "b" / "y.MOV"), 1)]
    with pytest.raises(LabeledListError, match=r"class folder\(s\) \['b'\] are not among the labels"):
        load_folder_per_class(tmp_path, ["a"])


# ---------------------------------------------------------------- ClipDataset, eval


def _expected_clip(info, path, plan, keyframes=None):
    """The frames the plan asks for, computed from the generator's metadata and decoded with OpenCV."""
    c = _clip(info, path)
    times = frame_times_from_rate(c["frames"], c["fps"])
    keyframes = list(range(0, c["frames"], c["gop"])) if keyframes is None else keyframes
    timeline = VideoTimeline(duration=c["frames"] / c["fps"], frame_times=times, keyframes=keyframes)
    return [[f.index for f in clip.frames] for clip in sample_frames(timeline, plan)]


def test_eval_items_follow_the_plan(data):
    root, info = data
    items = load_labeled_list(root / "val.txt")
    ds = ClipDataset(items, PLAN, eval_transform(INPUT))
    assert len(ds) == 3 * len(items) and ds.skipped == []
    transform = eval_transform(INPUT)
    for i in (0, 1, 2, 3, len(ds) - 1):
        item = ds[i]
        video_index, clip_index = divmod(i, 3)
        path, label = items[video_index]
        assert (item["path"], item["label"], item["video_index"], item["clip_index"]) == (path, label, video_index, clip_index)
        assert item["video"].shape == (3, 4, 32, 32) and item["video"].dtype == torch.float32
        indices = _expected_clip(info, path, PLAN)[clip_index]
        frames = torch.from_numpy(decode_frames(path, indices, backend="opencv")).permute(3, 0, 1, 2)
        assert torch.equal(item["video"], transform(frames))


def test_eval_uniform_sampler_and_keyframes(data):
    root, info = data
    items = load_labeled_list(root / "train.txt")[:4]
    plan = {**PLAN, "clipSampler": {"kind": "uniform", "stride": 0.75, "backpadLast": True}, "frameSelector": "keyframe"}
    ds = ClipDataset(items, plan, None)
    expected_counts = [len(clip_starts(_clip(info, p)["frames"] / _clip(info, p)["fps"], plan)) for p, _ in items]
    assert len(ds) == sum(expected_counts) and max(expected_counts) > 2
    item = ds[1]  # second clip of the first video
    indices = _expected_clip(info, items[0][0], plan)[1]
    gop = _clip(info, items[0][0])["gop"]
    assert all(i % gop == 0 for i in indices)
    # No transform: the raw uint8 (C, T, H, W) frames.
    assert item["video"].dtype == torch.uint8
    assert torch.equal(item["video"], torch.from_numpy(decode_frames(items[0][0], indices, backend="opencv")).permute(3, 0, 1, 2))


def test_bad_videos_are_skipped_with_warnings(data, bad):
    root, _ = data
    items = load_labeled_list(root / "val.txt")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = ClipDataset(items[:2] + bad + items[2:], PLAN, eval_transform(INPUT))
    messages = [str(w.message) for w in caught if issubclass(w.category, SkippedVideoWarning)]
    assert len(messages) == len(bad) == len(ds.skipped)
    assert [p for p, _ in ds.skipped] == [p for p, _ in bad]
    reasons = dict(ds.skipped)
    assert "not a readable video" in reasons[bad[0][0]]  # moov lost with the tail
    assert "truncated: only" in reasons[bad[1][0]]
    assert "not a readable video" in reasons[bad[2][0]]
    assert "empty file" in reasons[bad[3][0]]
    assert all(m.startswith(f"skipping {p}: ") for m, (p, _) in zip(messages, bad))
    assert len(ds) == 3 * len(items) and [v[0] for v in ds.videos] == [p for p, _ in items]
    assert ds[len(ds) - 1]["path"] == items[-1][0]


def test_nothing_readable_is_an_error(bad):
    with pytest.warns(SkippedVideoWarning):
        with pytest.raises(ValueError, match=r"no readable videos among 4 items \(4 skipped\)"):
            ClipDataset(bad, PLAN, None)


def test_keyframe_plan_with_opencv_backend_says_why(data):
    root, _ = data
    items = load_labeled_list(root / "val.txt")[:1]
    with pytest.warns(SkippedVideoWarning, match="keyframes but they are unknown .*use PyAV"):
        with pytest.raises(ValueError):
            ClipDataset(items, {**PLAN, "frameSelector": "keyframe"}, None, backend="opencv")
    ds = ClipDataset(items, PLAN, None, backend="opencv")
    assert torch.equal(ds[2]["video"], ClipDataset(items, PLAN, None)[2]["video"])


def test_eval_decode_failure_after_probe_is_an_error(data, tmp_path):
    root, info = data
    path = tmp_path / "v.mp4"
    shutil.copy(root / info["clips"][0]["path"], path)
    ds = ClipDataset([(str(path), 0)], PLAN, None)
    path.write_bytes(b"gone")
    with pytest.raises(VideoReadError, match=r"v\.mp4: not a readable video"):
        ds[0]


# ---------------------------------------------------------------- ClipDataset, train


def test_train_clips_are_random_windows_seeded_by_epoch(data):
    root, info = data
    items = load_labeled_list(root / "train.txt")
    ds = ClipDataset(items, PLAN, None, mode="train", seed=1)
    assert len(ds) == len(items)
    path = items[3][0]
    c = _clip(info, path)
    everything = decode_frames(path, list(range(c["frames"])))
    firsts = set()
    for epoch in range(6):
        ds.set_epoch(epoch)
        item = ds[3]
        assert item["clip_index"] == -1 and item["label"] == items[3][1] and item["video"].shape[1] == 4
        frames = item["video"].permute(1, 2, 3, 0).numpy()
        # Find each returned frame in the video: consecutive frames all differ, so the match is unique.
        idx = [int(np.flatnonzero((everything == f).all(axis=(1, 2, 3)))[0]) for f in frames]
        assert idx == sorted(idx) and idx[-1] - idx[0] < PLAN["clipDuration"] * c["fps"]
        # The window starts in [0, D − c]; its first frame is at most one frame later.
        assert idx[0] / c["fps"] < c["frames"] / c["fps"] - PLAN["clipDuration"] + 1 / c["fps"]
        firsts.add(idx[0])
    assert len(firsts) >= 3


def test_train_determinism_and_rng_isolation(data):
    root, _ = data
    items = load_labeled_list(root / "train.txt")
    make = lambda seed: ClipDataset(items, PLAN, train_transform(INPUT), mode="train", seed=seed)  # noqa: E731
    a, b = make(0), make(0)
    torch.manual_seed(123)
    first = a[5]["video"]
    after = torch.rand(3)
    torch.manual_seed(123)
    assert torch.equal(first, b[5]["video"])
    assert torch.equal(after, torch.rand(3))  # the caller's RNG stream is untouched
    assert not torch.equal(first, make(1)[5]["video"])
    b.set_epoch(1)
    assert not torch.equal(first, b[5]["video"])


def test_pair_transform_flips_label(data):
    root, _ = data
    items = load_labeled_list(root / "train.txt")
    ds = ClipDataset(items, PLAN, None, mode="train", pair_transform=HorizontalFlipWithLabel(HFLIP_LABEL_PERMUTATION, p=1.0))
    plain = ClipDataset(items, PLAN, None, mode="train")
    for i in (0, 6):  # move_left, rotate_cw
        assert ds[i]["label"] == HFLIP_LABEL_PERMUTATION[items[i][1]]
        assert torch.equal(ds[i]["video"], plain[i]["video"].flip(-1))


def test_train_decode_failure_after_probe_draws_another_video(data, tmp_path):
    root, info = data
    paths = []
    for k in range(3):
        paths.append(tmp_path / f"v{k}.mp4")
        shutil.copy(root / info["clips"][k]["path"], paths[-1])
    ds = ClipDataset([(str(p), k) for k, p in enumerate(paths)], PLAN, None, mode="train")
    paths[0].write_bytes(b"gone")
    with pytest.warns(SkippedVideoWarning, match=r"v0\.mp4"):
        item = ds[0]
    assert item["path"] in (str(paths[1]), str(paths[2])) and item["label"] in (1, 2)
    assert len(ds.skipped) == 1 and ds.skipped[0][0] == str(paths[0]) and "not a readable video" in ds.skipped[0][1]
    for p in paths[1:]:
        p.write_bytes(b"gone")
    with pytest.warns(SkippedVideoWarning):
        with pytest.raises(VideoReadError, match=r"v1\.mp4: this and 2 other videos failed to decode"):
            ds[1]


def test_dataloader_workers_match_single_process(data):
    root, _ = data
    items = load_labeled_list(root / "train.txt")
    ds = ClipDataset(items, PLAN, train_transform(INPUT), mode="train", seed=3)
    assert pickle.loads(pickle.dumps(ds)).videos == ds.videos
    single = list(DataLoader(ds, batch_size=4, num_workers=0))
    multi = list(DataLoader(ds, batch_size=4, num_workers=2))
    assert len(single) == len(multi) == len(items) // 4
    for x, y in zip(single, multi):
        assert x["video"].shape == (4, 3, 4, 32, 32)
        assert torch.equal(x["video"], y["video"]) and torch.equal(x["label"], y["label"]) and x["path"] == y["path"]
