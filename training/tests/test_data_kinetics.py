"""Kinetics-style CSVs: file lookup, time windows, missing files, bad rows; the list dispatcher."""
import shutil
import warnings

import pytest
import torch

from videotrain.data.dataset import ClipDataset, SkippedVideoWarning
from videotrain.data.kinetics import MissingVideosWarning, load_kinetics_csv
from videotrain.data.labeled import LabeledListError, LabeledVideo
from videotrain.data.sources import load_video_list
from videotrain.data.synthetic import generate_dataset
from videotrain.data.video import probe_video

torch.set_num_threads(1)

HEADER = "label,youtube_id,time_start,time_end,split\n"
PLAN = {"clipSampler": {"kind": "constant_clips_per_video", "clipsPerVideo": 3}, "clipDuration": 0.5, "frames": 4, "frameSelector": "uniform"}


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    info = generate_dataset(root, clips_per_class_train=1, clips_per_class_val=0, seed=11, workers=2, progress=False)
    return [root / c["path"] for c in info["clips"]]


@pytest.fixture
def kinetics(tmp_path, videos):
    """Four layouts: per split/label (label with spaces kept, and as underscores), flat trimmed, full video; one row missing."""
    root = tmp_path / "k400"
    for dest, src in (
        ("train/abseiling/aaa_000010_000020.mp4", videos[0]),
        ("train/air_drumming/bbb_000000_000010.mp4", videos[1]),
        ("ccc_000005_000015.mp4", videos[2]),
        ("ddd.mp4", videos[3]),
    ):
        (root / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, root / dest)
    csv = root / "train.csv"
    csv.write_text(
        HEADER
        + "abseiling,aaa,10,20,train\n"
        + '"air drumming",bbb,0,10,train\n'
        + "abseiling,ccc,5.0,15.0,train\n"
        + "zumba,ddd,0.5,1.8,train\n"
        + "zumba,eee,0,10,train\n"
    )
    return root, csv


def test_lookup_layouts_windows_and_labels(kinetics):
    root, csv = kinetics
    with pytest.warns(MissingVideosWarning, match=r"train\.csv: 1 of 5 videos not found under .*eee_000000_000010\.mp4"):
        got = load_kinetics_csv(csv)
    assert got.labels == ["abseiling", "air drumming", "zumba"]  # sorted CSV labels
    assert got.items == [
        LabeledVideo(str(root / "train/abseiling/aaa_000010_000020.mp4"), 0),
        LabeledVideo(str(root / "train/air_drumming/bbb_000000_000010.mp4"), 1),
        LabeledVideo(str(root / "ccc_000005_000015.mp4"), 0),
        # The full video: its clips are restricted to the row's segment.
        LabeledVideo(str(root / "ddd.mp4"), 2, 0.5, 1.8),
        LabeledVideo(str(root / "train/zumba/eee_000000_000010.mp4"), 2),
    ]
    assert got.missing == [4]
    # Given labels decide the indices; split filters rows.
    with pytest.warns(MissingVideosWarning):
        again = load_kinetics_csv(csv, root=root, labels=["zumba", "abseiling", "air drumming"], split="train")
    assert [i.label for i in again.items] == [1, 2, 1, 0, 0]
    with pytest.raises(LabeledListError, match="no rows with split 'val'"):
        load_kinetics_csv(csv, split="val")


def test_missing_files_are_skipped_and_counted_by_the_dataset(kinetics):
    _, csv = kinetics
    with pytest.warns(MissingVideosWarning):
        items = load_kinetics_csv(csv).items
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = ClipDataset(items, PLAN, None)
    assert [p for p, _ in ds.skipped] == [items[4].path] and ds.skipped[0][1] == "no such file"
    assert any(issubclass(w.category, SkippedVideoWarning) and "eee_000000_000010" in str(w.message) for w in caught)
    assert len(ds.videos) == 4


def test_a_time_window_restricts_every_clip(kinetics):
    root, _ = kinetics
    path = str(root / "ddd.mp4")
    info = probe_video(path)
    assert info.duration > 1.8
    inside = [i for i, t in enumerate(info.frame_times) if 0.5 - 1e-9 <= t < 1.8 - 1e-9]
    ds = ClipDataset([LabeledVideo(path, 0, 0.5, 1.8)], PLAN, None)
    timeline, offset = ds.timelines[0]
    assert offset == inside[0] > 0 and timeline.duration == pytest.approx(1.3)
    whole = ClipDataset([(path, 0)], PLAN, None)
    for k in range(3):
        item = ds[k]
        # Clip k of the window is clip k of a 1.3 s video whose frame 0 is the window's first frame.
        assert item["clip_index"] == k and item["video"].shape[1] == 4
    # Frames come from the window: compare with decoding the window's frames directly.
    from videotrain.data.video import decode_frames
    from videotrain.sampling import sample_frames

    for k, clip in enumerate(sample_frames(timeline, PLAN)):
        indices = [f.index + offset for f in clip.frames]
        assert all(i in inside for i in indices)
        assert torch.equal(ds[k]["video"], torch.from_numpy(decode_frames(path, indices)).permute(3, 0, 1, 2))
    assert not torch.equal(ds[0]["video"], whole[0]["video"])
    # Train mode: random clips stay inside the window too.
    train = ClipDataset([LabeledVideo(path, 0, 0.5, 1.8)], PLAN, None, mode="train")
    frames = torch.from_numpy(decode_frames(path, list(range(info.frame_count))))
    for epoch in range(4):
        train.set_epoch(epoch)
        clip = train[0]["video"].permute(1, 2, 3, 0)
        found = [int(torch.nonzero((frames == f).flatten(1).all(1))[0]) for f in clip]
        assert all(i in inside for i in found)
    # A window past the end of the video is a skip with a reason, not a crash.
    with pytest.warns(SkippedVideoWarning, match=r"no frames in its time window \[100, .*\) s"):
        with pytest.raises(ValueError, match="no readable videos"):
            ClipDataset([LabeledVideo(path, 0, 100.0, 110.0)], PLAN, None)


@pytest.mark.parametrize(
    "text, message",
    [
        ("", r"k\.csv: empty file; expected a header label,youtube_id,time_start,time_end,split"),
        ("label,youtube_id,start,end,split\n", r"k\.csv:1: the header lacks column\(s\) time_start, time_end"),
        (HEADER + "a,x,0,10,train\nb,y,zero,10,train\n", r"k\.csv:3: time_start must be a number of seconds, got 'zero'"),
        (HEADER + "a,x,10,10,train\n", r"k\.csv:2: time_end \(10\) must be after time_start \(10\)"),
        (HEADER + "a,x,-1,10,train\n", r"k\.csv:2: time_start must be a non-negative number"),
        (HEADER + "a,x,0,10\n", r"k\.csv:2: expected 5 fields \(label,youtube_id,time_start,time_end,split\), got 4"),
        (HEADER + "a,,0,10,train\n", r"k\.csv:2: empty youtube_id"),
        (HEADER + "\n\n", r"k\.csv: no rows"),
    ],
)
def test_bad_rows_name_the_file_and_line(tmp_path, text, message):
    f = tmp_path / "k.csv"
    f.write_text(text)
    with pytest.raises(LabeledListError, match=message):
        load_kinetics_csv(f)


def test_unknown_label_and_missing_csv(tmp_path):
    f = tmp_path / "k.csv"
    f.write_text(HEADER + "a,x,0,10,train\nb,y,0,10,train\n")
    with pytest.raises(LabeledListError, match=r"k\.csv:3: label 'b' is not among the 1 labels"):
        load_kinetics_csv(f, labels=["a"])
    with pytest.raises(LabeledListError, match=r"nope\.csv: no such file"):
        load_kinetics_csv(tmp_path / "nope.csv")


def test_load_video_list_dispatches_on_what_the_path_is(tmp_path, kinetics, videos):
    root, csv = kinetics
    labels = ["abseiling", "air drumming", "zumba"]
    with pytest.warns(MissingVideosWarning):
        assert load_video_list(csv, None, labels)[3] == LabeledVideo(str(root / "ddd.mp4"), 2, 0.5, 1.8)
    # A folder per class: folder names must be label names.
    with pytest.raises(LabeledListError, match=r"class folder\(s\) \['air_drumming'\] are not among the labels"):
        load_video_list(root / "train", None, labels)
    assert load_video_list(root / "train", None, ["abseiling", "air_drumming", "zumba"])[1] == LabeledVideo(
        str(root / "train/air_drumming/bbb_000000_000010.mp4"), 1
    )
    # A `path label` list, with the label range checked.
    lst = tmp_path / "list.txt"
    lst.write_text(f"{videos[0]} 2\n")
    assert load_video_list(lst, None, labels) == [LabeledVideo(str(videos[0]), 2)]
    lst.write_text(f"{videos[0]} 3\n")
    with pytest.raises(LabeledListError, match=r"list\.txt: label 3 .* is out of range: there are 3 labels"):
        load_video_list(lst, None, labels)
