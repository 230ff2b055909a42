"""`videotrain train` with the data features: corrupt and missing videos in both lists, a Kinetics CSV
for validation, RandAugment + MixUp/CutMix with label smoothing; and the CLI's augmentation flags."""
import json
import shutil
import warnings
from pathlib import Path

import pytest
import torch

from test_data_loading import corrupt_copy
from videotrain.cli import main
from videotrain.data.labeled import load_labeled_list
from videotrain.data.synthetic import CLASSES, generate_dataset
from videotrain.train import TrainOptions, train

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def lists(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds")
    generate_dataset(root, clips_per_class_train=1, clips_per_class_val=1, seed=7, workers=2, progress=False)
    train_items = load_labeled_list(root / "train.txt")
    val_items = load_labeled_list(root / "val.txt")
    bad = root / "bad"
    bad.mkdir()
    corrupt_train = corrupt_copy(Path(train_items[0][0]), bad / "corrupt_train.mp4")
    corrupt_val = corrupt_copy(Path(val_items[0][0]), bad / "corrupt_val.mp4")
    train_list = root / "train_bad.txt"
    train_list.write_text("".join(f"{p} {y}\n" for p, y in [(corrupt_train, 0), (bad / "gone.mp4", 1)] + train_items))
    # Validation as a Kinetics-style CSV over full videos named <youtube_id>.mp4 (clips restricted to 0-10 s).
    k400 = root / "k400"
    k400.mkdir()
    rows = ["label,youtube_id,time_start,time_end,split"]
    for i, (p, y) in enumerate(val_items):
        shutil.copy(p, k400 / f"vid{i:02d}.mp4")
        rows.append(f"{CLASSES[y]},vid{i:02d},0,10,val")
    shutil.copy(corrupt_val, k400 / "broken.mp4")
    rows += [f"{CLASSES[0]},broken,0,10,val", f"{CLASSES[1]},absent,0,10,val"]
    (k400 / "val.csv").write_text("\n".join(rows) + "\n")
    return root, train_list, k400 / "val.csv", str(corrupt_train), str(k400 / "broken.mp4")


def test_training_survives_bad_videos_and_reports_them(lists, tmp_path):
    root, train_list, val_csv, corrupt_train, corrupt_val = lists
    out = tmp_path / "run"
    opts = TrainOptions(
        out=str(out), train_list=str(train_list), val_list=str(val_csv), labels=str(root / "labels.txt"),
        preset="tiny", epochs=1, batch_size=4, workers=2, threads=1, progress=False, id="t", version="1",
        rand_augment=(2, 9.0), mixup=0.8, cutmix=1.0, mix_prob=0.9, label_smoothing=0.1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train(opts)
    metrics = json.loads((out / "metrics.json").read_text())
    skipped = {(v["split"], Path(v["path"]).name): v["reason"] for v in metrics["skipped"]["videos"]}
    assert metrics["skipped"]["count"] == len(skipped) == 4
    assert skipped[("train", "gone.mp4")] == "no such file"
    assert skipped[("val", "absent_000000_000010.mp4")] == "no such file"
    assert "decod" in skipped[("train", "corrupt_train.mp4")] and "decod" in skipped[("val", "broken.mp4")]
    # Validation scored the 8 good videos only (the corrupt one passed the probe, then failed to decode).
    assert metrics["history"][0]["val.videos"] == 8
    params = json.loads((out / "config.json").read_text())["train"]
    assert params["randAugment"] == {"numLayers": 2, "magnitude": 9.0}
    assert (params["mixup"], params["cutmix"], params["mixProb"], params["labelSmoothing"]) == (0.8, 1.0, 0.9, 0.1)
    assert (out / "teacher.onnx").is_file()


def _cli_error(capsys, argv) -> str:
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    return capsys.readouterr().err


def test_cli_augmentation_flags(lists, tmp_path, capsys):
    root, *_ = lists
    base = ["train", "--data", str(root), "--out", str(tmp_path / "r")]
    err = _cli_error(capsys, base + ["--randaugment", "9"])
    assert "--randaugment: expected N,M (operations per clip, magnitude), e.g. 2,9; got '9'" in err
    # Values argparse accepts but the augmentations refuse: one `error:` line naming the option.
    assert main(base + ["--randaugment", "20,9"]) == 2
    assert "error: augmentation options: num_layers must be in [1, 14], got 20" in capsys.readouterr().err
    assert main(base + ["--mixup", "0.5", "--mix-prob", "0"]) == 2
    assert "mix_prob in (0, 1]" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
