"""One entry point for the three ways to list training videos, chosen by what the path is."""
from __future__ import annotations

import os
from pathlib import Path

from videotrain.data.kinetics import load_kinetics_csv
from videotrain.data.labeled import LabeledListError, LabeledVideo, load_folder_per_class, load_labeled_list


def load_video_list(
    source: str | os.PathLike, root: str | os.PathLike | None, labels: list[str]
) -> list[LabeledVideo]:
    """Labeled videos from a directory with a folder per class, a Kinetics-style
    .csv, or a `path label` list file; label indices follow `labels`."""
    path = Path(source)
    if path.is_dir():
        if root is not None:
            raise LabeledListError(path, None, "--root applies to list files, not to a folder-per-class directory")
        return [LabeledVideo(p, y) for p, y in load_folder_per_class(path, labels)[0]]
    if path.suffix.lower() == ".csv":
        return load_kinetics_csv(path, root, labels).items
    items = [LabeledVideo(p, y) for p, y in load_labeled_list(path, root)]
    bad = next((item for item in items if item.label >= len(labels)), None)
    if bad is not None:
        raise LabeledListError(path, None, f"label {bad.label} (for {bad.path}) is out of range: there are {len(labels)} labels")
    return items
