"""Kinetics-style annotation CSVs: `label,youtube_id,time_start,time_end,split` with a header.

Each row names a segment of a YouTube video. The file is looked up as
  <root>/<split>/<label>/<youtube_id>_<start:06d>_<end:06d>.mp4  (the
      downloaders' trimmed clips; label as written or with spaces as '_'),
  <root>/<youtube_id>_<start:06d>_<end:06d>.mp4                  (trimmed, flat),
  <root>/<youtube_id>.mp4                                        (the full video:
      its clips are then restricted to [time_start, time_end]).
A trimmed file already is the segment, so it is used whole. Rows whose file
is found nowhere are counted and warned about, not an error: they stay in the
list at their first candidate path, so ClipDataset skips them ("no such file")
and the run summary counts them.
"""
from __future__ import annotations

import csv
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from videotrain.data.labeled import LabeledListError, LabeledVideo

COLUMNS = ("label", "youtube_id", "time_start", "time_end", "split")
# Missing files named in the warning; all are counted.
_SHOWN_MISSING = 5


class MissingVideosWarning(UserWarning):
    pass


@dataclass
class KineticsList:
    items: list[LabeledVideo]
    labels: list[str]
    missing: list[int]  # indices into items of rows whose file was not found


def _seconds(value: str, column: str, where: tuple[str, int]) -> float:
    try:
        t = float(value)
    except ValueError:
        raise LabeledListError(where[0], where[1], f"{column} must be a number of seconds, got {value!r}") from None
    if not math.isfinite(t) or t < 0:
        raise LabeledListError(where[0], where[1], f"{column} must be a non-negative number of seconds, got {value!r}")
    return t


def _candidates(root: Path, row: dict, start: float, end: float) -> list[tuple[Path, bool]]:
    """(path, is the full video) in lookup order."""
    trimmed = f"{row['youtube_id']}_{int(start):06d}_{int(end):06d}.mp4"
    label = row["label"]
    labels = [label] + ([label.replace(" ", "_")] if " " in label else [])
    found = [(root / row["split"] / name / trimmed, False) for name in labels]
    return found + [(root / trimmed, False), (root / f"{row['youtube_id']}.mp4", True)]


def load_kinetics_csv(
    csv_file: str | os.PathLike,
    root: str | os.PathLike | None = None,
    labels: list[str] | None = None,
    split: str | None = None,
) -> KineticsList:
    """Labeled videos from a Kinetics-style CSV.

    root: where the videos are (default: the CSV's directory). labels: class
    names in label-index order (e.g. from labels.txt; a CSV label not among
    them is an error); default: the CSV's labels, sorted. split: keep only the
    rows of that split. Extra columns (e.g. is_cc) are ignored.
    """
    csv_file = str(csv_file)
    base = Path(csv_file).parent if root is None else Path(root)
    try:
        with open(csv_file, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise LabeledListError(csv_file, None, "no such file") from None
    except UnicodeDecodeError as e:
        raise LabeledListError(csv_file, None, f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    except csv.Error as e:
        raise LabeledListError(csv_file, None, f"not a readable CSV ({e})") from None
    if not rows:
        raise LabeledListError(csv_file, None, "empty file; expected a header " + ",".join(COLUMNS))
    header = [h.strip() for h in rows[0]]
    absent = [c for c in COLUMNS if c not in header]
    if absent:
        raise LabeledListError(csv_file, 1, f"the header lacks column(s) {', '.join(absent)}; expected {','.join(COLUMNS)}, got {','.join(header)}")
    col = {c: header.index(c) for c in COLUMNS}

    parsed: list[tuple[int, dict, float, float]] = []
    for n, raw in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in raw):
            continue
        if len(raw) < len(header):
            raise LabeledListError(csv_file, n, f"expected {len(header)} fields ({','.join(header)}), got {len(raw)}")
        row = {c: raw[i].strip() for c, i in col.items()}
        if split is not None and row["split"] != split:
            continue
        for c in ("label", "youtube_id", "split"):
            if not row[c]:
                raise LabeledListError(csv_file, n, f"empty {c}")
        start = _seconds(row["time_start"], "time_start", (csv_file, n))
        end = _seconds(row["time_end"], "time_end", (csv_file, n))
        if end <= start:
            raise LabeledListError(csv_file, n, f"time_end ({row['time_end']}) must be after time_start ({row['time_start']})")
        parsed.append((n, row, start, end))
    if not parsed:
        raise LabeledListError(csv_file, None, "no rows" + (f" with split {split!r}" if split is not None else ""))

    names = sorted({row["label"] for _, row, _, _ in parsed}) if labels is None else list(labels)
    index = {name: i for i, name in enumerate(names)}
    items: list[LabeledVideo] = []
    missing: list[int] = []
    for n, row, start, end in parsed:
        if row["label"] not in index:
            raise LabeledListError(csv_file, n, f"label {row['label']!r} is not among the {len(names)} labels")
        candidates = _candidates(base, row, start, end)
        found = next(((p, full) for p, full in candidates if p.is_file()), None)
        if found is None:
            missing.append(len(items))
            items.append(LabeledVideo(str(candidates[0][0]), index[row["label"]]))
        else:
            path, full = found
            items.append(LabeledVideo(str(path), index[row["label"]], *((start, end) if full else (None, None))))
    if missing:
        shown = ", ".join(items[i].path for i in missing[:_SHOWN_MISSING])
        more = f" and {len(missing) - _SHOWN_MISSING} more" if len(missing) > _SHOWN_MISSING else ""
        warnings.warn(
            f"{csv_file}: {len(missing)} of {len(items)} videos not found under {base} (e.g. {shown}{more}); they will be skipped",
            MissingVideosWarning,
            stacklevel=2,
        )
    return KineticsList(items=items, labels=names, missing=missing)
