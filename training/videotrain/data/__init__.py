"""Data side of videotrain: synthetic dataset, video reading, labeled lists, clip datasets.

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
    "ClipDataset": "dataset",
    "SkippedVideoWarning": "dataset",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
