"""Labeled video lists: PyTorchVideo's `path label` files, folder-per-class trees, label files."""
from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi")


class LabeledVideo(NamedTuple):
    """One labeled video; start/end (seconds) restrict its clips to that part of the file.

    A plain (path, label) pair is the same item without a restriction.
    """

    path: str
    label: int
    start: float | None = None
    end: float | None = None


class LabeledListError(ValueError):
    def __init__(self, path: str | os.PathLike, line: int | None, reason: str):
        self.path, self.line, self.reason = str(path), line, reason
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")

    def __reduce__(self):
        return (type(self), (self.path, self.line, self.reason))


def _lines(path: str | os.PathLike) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise LabeledListError(path, None, "no such file") from None
    except UnicodeDecodeError as e:
        raise LabeledListError(path, None, f"not UTF-8 text ({e.reason} at byte {e.start})") from None


def load_labeled_list(list_file: str | os.PathLike, root: str | os.PathLike | None = None) -> list[tuple[str, int]]:
    """(path, label) pairs from lines `relative/or/absolute/path.mp4 <label index>`.

    Relative paths are joined to `root`, by default the list file's directory.
    Blank lines and lines starting with '#' are ignored. The label is the last
    whitespace-separated field, so paths may contain spaces.
    """
    base = Path(list_file).parent if root is None else Path(root)
    items = []
    for n, raw in enumerate(_lines(list_file), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.rsplit(None, 1)
        if len(parts) != 2:
            raise LabeledListError(list_file, n, f"expected `path label`, got {line!r}")
        path, label = parts
        try:
            index = int(label)
        except ValueError:
            raise LabeledListError(list_file, n, f"label must be a non-negative integer, got {label!r}") from None
        if index < 0:
            raise LabeledListError(list_file, n, f"label must be a non-negative integer, got {label!r}")
        items.append((str(base / path), index))
    return items


def load_labels(path: str | os.PathLike) -> list[str]:
    """Class names, one per line (line order = label index); blank lines ignored, duplicates rejected."""
    labels: list[str] = []
    first_seen: dict[str, int] = {}
    for n, raw in enumerate(_lines(path), start=1):
        name = raw.strip()
        if not name:
            continue
        if name in first_seen:
            raise LabeledListError(path, n, f"duplicate label {name!r} (first on line {first_seen[name]})")
        first_seen[name] = n
        labels.append(name)
    if not labels:
        raise LabeledListError(path, None, "no labels")
    return labels


def load_folder_per_class(
    root: str | os.PathLike, labels: list[str] | None = None
) -> tuple[list[tuple[str, int]], list[str]]:
    """Videos under root/<class>/ (files with a video extension, not recursive): (items, labels).

    Label indices follow `labels` when given (e.g. from labels.txt; a class
    folder not in it is an error), else the sorted folder names, as
    PyTorchVideo's and torchvision's folder datasets do.
    """
    root = Path(root)
    if not root.is_dir():
        raise LabeledListError(root, None, "not a directory")
    folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if labels is None:
        labels = folders
    else:
        unknown = [f for f in folders if f not in labels]
        if unknown:
            raise LabeledListError(root, None, f"class folder(s) {unknown} are not among the labels {labels}")
    index = {name: i for i, name in enumerate(labels)}
    items = []
    for name in folders:
        for f in sorted((root / name).iterdir()):
            if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in VIDEO_EXTENSIONS:
                items.append((str(f), index[name]))
    if not items:
        raise LabeledListError(root, None, f"no video files ({', '.join(VIDEO_EXTENSIONS)}) in its class folders")
    return items, list(labels)
