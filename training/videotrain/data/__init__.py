"""Data side of videotrain: synthetic dataset, video reading, labeled lists (path-label
files, folder per class, Kinetics CSVs), clip samplers, clip datasets.

Names are imported lazily, so that `python -m videotrain.data.synthetic` and its
worker processes do not pay for importing torch.
"""
from importlib import import_module

_EXPORTS = {
    "CLASSES": "synthetic",
    "HFLIP_LABEL_PERMUTATION": "synthetic",
    "generate_dataset": "synthetic",
    "VideoInfo": "video",
    "VideoReadError": "video",
    "probe_video": "video",
    "decode_frames": "video",
    "load_labeled_list": "labeled",
    "load_folder_per_class": "labeled",
    "load_labels": "labeled",
    "LabeledListError": "labeled",
    "LabeledVideo": "labeled",
    "load_kinetics_csv": "kinetics",
    "load_video_list": "sources",
    "make_clip_sampler": "samplers",
    "ClipDataset": "dataset",
    "ClipLoader": "dataset",
    "collate_clips": "dataset",
    "SkippedVideoWarning": "dataset",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
