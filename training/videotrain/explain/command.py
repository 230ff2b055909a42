"""`videotrain explain --run RUN VIDEO`: maps of where the run's model finds a class, and pictures of them.

The clips are the run's sampling plan (manifest `sampling`, frame selector
included) on the video through the eval transform: exactly the crops that
`videotrain evaluate` and the Worker feed the model. The class explained is
--label, else the video's top-1 (the mean of its clips' softmax, as evaluate
aggregates). Every clip is explained, or only --clip N.

Maps are min-max normalised per clip over its whole T×H×W (all zeros where
the map is constant); explain.json keeps each clip's raw range, so
raw = lo + map·(hi − lo). SlowFast's maps are combined on the fast pathway's
time axis (features.on_finest_time_axis), and each pathway's own map is
written beside them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ..data.video import decode_frames, probe_video
from ..runs import RunDir, load_model, read_manifest, write_json
from ..sampling import SampledClip, VideoTimeline, sample_frames
from ..transforms import eval_transform
from . import ExplainError
from .cam import class_activation_map, pooled_head
from .features import PATHWAYS, default_layer
from .gradcam import Explanation, grad_cam
from .render import overlay, to_rgb, write_overlay_video, write_strip

METHODS = ("gradcam", "cam")
FILES = {"strip": "strip.png", "overlay": "overlay.mp4", "maps": "maps.npy", "mapsRaw": "maps_raw.npy"}
Normalised = tuple[torch.Tensor, list[float]]  # a map in [0, 1] and its raw [lo, hi]


def load_clips(video: str, manifest: dict) -> tuple[list[SampledClip], torch.Tensor]:
    """The plan's clips of the video and their (N, C, T, H, W) model inputs, as ClipDataset makes them."""
    info = probe_video(video)
    clips = sample_frames(VideoTimeline(info.duration, info.frame_times, info.keyframes), manifest["sampling"])
    frames = torch.from_numpy(decode_frames(video, [f.index for c in clips for f in c.frames], info=info))
    transform = eval_transform(manifest["input"])
    t = int(manifest["sampling"]["frames"])
    # (N·T, H, W, C) -> per clip (C, T, H, W)
    return clips, torch.stack([transform(frames[i * t : (i + 1) * t].permute(3, 0, 1, 2)) for i in range(len(clips))])


def _normalised(m: torch.Tensor) -> Normalised:
    lo, hi = m.min(), m.max()
    out = (m - lo) / (hi - lo) if hi > lo else torch.zeros_like(m)
    return out, [lo.item(), hi.item()]


def _top(probs: torch.Tensor, labels: list[str]) -> list[dict]:
    order = torch.argsort(probs, descending=True, stable=True)[: min(5, len(labels))]
    return [{"index": int(i), "label": labels[i], "prob": float(probs[i])} for i in order]


def _method_layer(method: str, layer: str | None, arch: str, model: torch.nn.Module) -> str:
    if method not in METHODS:
        raise ExplainError(f"unknown method {method!r}; expected {' or '.join(METHODS)}")
    if method == "gradcam":
        return layer or default_layer(arch, model)
    pool_input = pooled_head(model)[0]
    if layer not in (None, pool_input):
        raise ExplainError(f"--method cam works at the input of the head's pool, {pool_input}; "
                           f"drop --layer {layer}")
    return pool_input


def _maps(e: Explanation, frames: int, crop: int) -> tuple[torch.Tensor, Normalised, list[Normalised]]:
    """One clip's map upsampled to the crop, its raw map, and each pathway's where there are several."""
    raw, raw_range = _normalised(e.map[0])
    # Trilinear to the crop's frames and pixels, as the heatmap is drawn over them.
    up = F.interpolate(raw[None, None], size=(frames, crop, crop), mode="trilinear", align_corners=False)[0, 0]
    pathways = [_normalised(p[0]) for p in e.pathways] if len(e.pathways) > 1 else []
    return up, (raw, raw_range), pathways


def _save(path: Path, maps: list[torch.Tensor]) -> None:
    np.save(path, torch.stack(maps).numpy().astype(np.float32))


def explain(
    run_path: str | os.PathLike,
    video: str | os.PathLike,
    *,
    label: str | None = None,
    layer: str | None = None,
    method: str = "gradcam",
    clip: int | None = None,
    out: str | os.PathLike | None = None,
) -> dict:
    """Writes the maps and pictures (module doc) and returns explain.json's content plus "out"."""
    run = RunDir(run_path)
    manifest = read_manifest(run)
    model, config = load_model(run)
    labels = manifest["labels"]
    if label is not None and label not in labels:
        raise ExplainError(f"unknown label {label!r}; the run's labels: {', '.join(labels)}")
    layer = _method_layer(method, layer, config["arch"], model)
    clips, x = load_clips(str(video), manifest)
    chosen = list(range(len(clips))) if clip is None else [clip]
    if not all(0 <= c < len(clips) for c in chosen):
        raise ExplainError(f"--clip {clip}: {video} has {len(clips)} clips (0 to {len(clips) - 1})")

    with torch.no_grad():
        logits = model(x)
    clip_probs = logits.softmax(1) if manifest["output"]["kind"] == "logits" else logits
    probs = clip_probs.mean(0)
    k = labels.index(label) if label is not None else int(probs.argmax())

    crop, t = int(manifest["input"]["cropSize"]), int(manifest["sampling"]["frames"])
    maps, raws, pathway_maps, records, pictures = [], [], [], [], []
    for i in chosen:
        clip_x = x[i : i + 1]
        e = grad_cam(model, clip_x, layer, k) if method == "gradcam" else class_activation_map(model, clip_x, k)
        up, (raw, raw_range), pathways = _maps(e, t, crop)
        maps.append(up)
        raws.append(raw)
        pathway_maps.append([m for m, _ in pathways])
        records.append({
            "index": clips[i].index, "start": clips[i].start, "end": clips[i].end,
            "times": [f.time for f in clips[i].frames],
            "logit": float(logits[i, k]), "prob": float(clip_probs[i, k]), "top5": _top(clip_probs[i], labels),
            "rawRange": raw_range,
            **({"pathwayRanges": {n: r for n, (_, r) in zip(PATHWAYS, pathways)}} if pathways else {}),
        })
        frames = to_rgb(x[i], manifest["input"]["mean"], manifest["input"]["std"])
        pictures.append((clips[i].index, frames, overlay(frames, up.numpy()), records[-1]["times"]))

    out_dir = Path(out) if out is not None else run.path / "explain" / Path(video).stem
    out_dir.mkdir(parents=True, exist_ok=True)
    _save(out_dir / FILES["maps"], maps)
    _save(out_dir / FILES["mapsRaw"], raws)
    pathways = [
        {"name": n, "grid": list(pathway_maps[0][p].shape), "file": f"maps_raw_{n}.npy"}
        for p, n in enumerate(PATHWAYS[: len(pathway_maps[0])])
    ]
    for p, entry in enumerate(pathways):
        _save(out_dir / entry["file"], [per_clip[p] for per_clip in pathway_maps])
    name, score = labels[k], float(probs[k])
    write_strip(out_dir / FILES["strip"], f"{name} {score:.2f} | {method} at {layer} | {Path(video).name}", pictures)
    fps = t / float(manifest["sampling"]["clipDuration"])
    write_overlay_video(out_dir / FILES["overlay"], [(frames, over) for _, frames, over, _ in pictures], fps)

    result = {
        "run": str(run.path),
        "video": str(video),
        "model": {"id": manifest["id"], "version": manifest["version"], "architecture": manifest["architecture"]},
        "method": method,
        "layer": layer,
        "label": {"index": k, "name": name, "prob": score, "chosen": "--label" if label is not None else "top-1"},
        "top5": _top(probs, labels),
        "sampling": manifest["sampling"],
        "cropSize": crop,
        "rawGrid": list(raws[0].shape),
        "mapsShape": [len(maps), t, crop, crop],
        "pathways": pathways,
        "clips": records,
        "files": {**FILES, **{p["name"]: p["file"] for p in pathways}},
    }
    write_json(out_dir / "explain.json", result)
    return {**result, "out": str(out_dir)}
