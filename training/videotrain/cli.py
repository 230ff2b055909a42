"""`videotrain` command line: train, make-dataset, evaluate, frames, explain, check.

User mistakes (a bad --data directory, missing labels, an incomplete run)
print one `error:` line naming the file and exit 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .train import TrainOptions

USAGE_EXAMPLES = """examples:
  videotrain make-dataset --out data/synthetic
  videotrain train --data data/synthetic --arch x3d --preset tiny --out runs/tiny
  videotrain train --data kinetics --preset x3d_m_kinetics --out runs/x3d-m          (a bundled preset file)
  videotrain train --data kinetics --config my-recipe.json --epochs 100 --out runs/mine  (flags override the file)
  videotrain train --data data/synthetic --preset tiny --out runs/tiny --epochs 20 --resume
  videotrain evaluate --run runs/tiny --list data/synthetic/val.txt
  videotrain evaluate --run runs/tiny --list data/synthetic/val.txt --frame-selector keyframe
  videotrain frames --manifest runs/tiny/manifest.json clip.mp4 --out frames/
  videotrain explain --run runs/tiny data/synthetic/videos/move_left/val_00000.mp4 --label move_left   (Grad-CAM)
  videotrain finetune --config finetune.json --events events.jsonl
  videotrain distill --config distill.json
  videotrain check
"""


def _train_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a model and write a run directory",
        description="Train a model on labeled videos; writes checkpoint, teacher.onnx and manifest.json to --out.",
    )
    d = p.add_argument_group("data")
    d.add_argument("--data", help="dataset directory with train.txt, val.txt, labels.txt (dataset.json optional)")
    d.add_argument("--train-list", help="training videos: a `path label` list, a Kinetics-style .csv or a folder per class "
                                        "(overrides DIR/train.txt)")
    d.add_argument("--val-list", help="validation videos, the same kinds (overrides DIR/val.txt)")
    d.add_argument("--labels", help="label names, one per line (overrides DIR/labels.txt)")
    d.add_argument("--root", help="directory that relative paths in the lists start from (default: each list's directory)")
    m = p.add_argument_group("model and recipe (every flag below overrides the preset file's value)")
    m.add_argument("--preset", metavar="NAME",
                   help="a bundled preset file (training/presets/NAME.json: the model and its whole recipe): "
                        f"{', '.join(_bundled_presets())}; default tiny. Or a bare model preset of --arch "
                        "(x3d: xs, s, m, l; slowfast_r50, c2d_r50: 8x8; mvit_v2_s: 16x4; every arch: tiny) "
                        "with the trainer's defaults")
    m.add_argument("--config", metavar="FILE", help="a preset file of your own (copy one from training/presets)")
    m.add_argument("--arch", help="x3d, slowfast_r50, c2d_r50 or mvit_v2_s (default: the preset's, else x3d)")
    m.add_argument("--frames", type=int, help="frames per clip (default: the model preset's; resizes the head)")
    m.add_argument("--crop-size", type=int, help="crop side in pixels (default: the model preset's; resizes the head)")
    m.add_argument("--short-side-size", type=int, help="evaluation short side (training draws from [1, 1.25] times it)")
    m.add_argument("--clip-duration", type=float, metavar="SECONDS", help="seconds of video per clip")
    m.add_argument("--clips-per-video", type=int, help="validation/serving clips per video")
    o = p.add_argument_group("optimization")
    o.add_argument("--epochs", type=int, help="tiny: 30")
    o.add_argument("--batch-size", type=int, help="the global batch (tiny: 16)")
    o.add_argument("--lr", type=float, help="peak AdamW learning rate (tiny: 5e-3)")
    o.add_argument("--weight-decay", type=float, help="tiny: 0.05")
    o.add_argument("--warmup-epochs", type=float, help="tiny: 1")
    o.add_argument("--label-smoothing", type=float, help="tiny: 0")
    o.add_argument("--grad-clip", type=float, help="max gradient norm (0: off; tiny: 1)")
    o.add_argument("--hflip", choices=["auto", "on", "off"],
                   help="horizontal flips; auto (tiny): only with the label permutation a dataset.json declares")
    f = p.add_argument_group("fine-tuning (no download: FILE is a checkpoint you have)")
    f.add_argument("--pretrained", metavar="FILE",
                   help="start from a checkpoint: PyTorchVideo's .pyth ({'model_state': ...}), a state dict (.pt/.pth), "
                        ".safetensors, or a run directory; loaded strictly but for the classification head, which is "
                        "replaced when the class count differs")
    f.add_argument("--freeze-backbone", action="store_true", default=None,
                   help="linear probe: only the head trains; the backbone's weights and BatchNorm statistics stay")
    f.add_argument("--backbone-lr-mult", type=float, metavar="X",
                   help="the backbone's learning rate as a multiple of --lr (the head's); e.g. 0.1")
    a = p.add_argument_group("augmentation (all off in tiny)")
    a.add_argument("--randaugment", dest="rand_augment", type=_layers_magnitude, metavar="N,M",
                   help="video RandAugment: N operations per clip at magnitude M (0-10), e.g. 2,9")
    a.add_argument("--mixup", type=float, metavar="ALPHA", help="MixUp with lambda ~ Beta(ALPHA, ALPHA)")
    a.add_argument("--cutmix", type=float, metavar="ALPHA", help="CutMix (with --mixup too: either, 50/50)")
    a.add_argument("--mix-prob", type=float, metavar="P", help="fraction of batches mixed (tiny: 1)")
    r = p.add_argument_group("run")
    r.add_argument("--out", required=True, help="run directory to write (e.g. runs/NAME)")
    r.add_argument("--id", help="manifest id (default: <arch>-<preset>-<dataset>)")
    r.add_argument("--version", help="manifest version (default: UTC timestamp)")
    r.add_argument("--resume", action="store_true", help="continue from OUT/last.ckpt")
    r.add_argument("--stop-after", type=int, metavar="N",
                   help="train at most N epochs now, then stop (continue later with --resume)")
    r.add_argument("--workers", type=int, default=2, help="DataLoader worker processes")
    r.add_argument("--threads", type=int, help="torch threads (default: CPU count)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    r.add_argument("--exporter", choices=["torchscript", "dynamo"], default="torchscript")
    r.add_argument("--opset", type=int, default=17)
    r.add_argument("--no-progress", action="store_true", help="no progress bars, only one line per epoch")
    r.add_argument("--no-tensorboard", action="store_true", help="no TensorBoard event files in OUT/tensorboard")
    r.add_argument("--torchscript", action="store_true", help="also write OUT/model.ts.pt (traced, checked against eager)")
    s = p.add_argument_group("speed and memory (torchrun --nproc_per_node N -m videotrain train ... for several GPUs)")
    s.add_argument("--amp", choices=["auto", "off", "bf16", "fp16"],
                   help="autocast dtype; auto (every preset): bf16 on CUDA (fp16 + grad scaler without bf16), off on CPU")
    s.add_argument("--accum-steps", type=int, metavar="K",
                   help="gradient accumulation: one optimizer step per K batches (presets: 1)")
    s.add_argument("--checkpoint-activations", action="store_true", default=None,
                   help="recompute each block's activations in backward: less memory, ~1/3 more compute")
    s.add_argument("--deterministic", action="store_true", help="deterministic kernels only (slower on GPU)")
    t = p.add_argument_group("multi-view test of the best weights after training (off in tiny)")
    t.add_argument("--test-clips", type=int, metavar="N", help="clips per video (default: the validation plan's)")
    t.add_argument("--test-crops", type=int, choices=[1, 3], help="3: left, centre and right crops")


def _bundled_presets() -> list[str]:
    from .recipes import bundled_presets

    return bundled_presets()


def _layers_magnitude(text: str) -> tuple[int, float]:
    try:
        n, m = text.split(",")
        return int(n), float(m)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N,M (operations per clip, magnitude), e.g. 2,9; got {text!r}") from None


def _make_dataset_parser(sub) -> None:
    p = sub.add_parser("make-dataset", help="generate the synthetic motion dataset (8 classes, H.264 MP4)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--train-per-class", type=int, default=40)
    p.add_argument("--val-per-class", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--quiet", action="store_true")


def _evaluate_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="run a run's teacher.onnx on listed videos (onnxruntime) and write per-video predictions",
    )
    p.add_argument("--run", required=True, help="run directory (with manifest.json and its ONNX file)")
    p.add_argument("--list", required=True, help="`path label` list of videos")
    p.add_argument("--root", help="directory that relative paths in the list start from (default: the list's directory)")
    p.add_argument("--out", help="JSON output (default: RUN/eval-<list name>.json)")
    p.add_argument("--frame-selector", choices=["uniform", "keyframe"],
                   help="override the manifest's frame selector (keyframe: the frames the Worker's MP4 path decodes)")
    p.add_argument("--clips-per-video", type=int, metavar="N",
                   help="N evenly spaced clips per video instead of the manifest's clip sampler (the Worker's clips option)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")


def _frames_parser(sub) -> None:
    p = sub.add_parser(
        "frames",
        help="write the frames a model's sampling plan picks from videos, as images to upload to /v1/classify",
    )
    p.add_argument("video", nargs="?", help="one video (or use --list)")
    p.add_argument("--manifest", required=True, help="the model's manifest.json (its sampling plan decides the frames)")
    p.add_argument("--list", help="`path label` list of videos")
    p.add_argument("--root", help="directory that relative paths in the list start from (default: the list's directory)")
    p.add_argument("--format", choices=["jpg", "png"], default="jpg")
    p.add_argument("--out", required=True, help="output directory: videoNNNNN/clipK/frameJJ.<format> and index.json")


def _explain_parser(sub) -> None:
    p = sub.add_parser(
        "explain",
        help="Grad-CAM (or CAM) maps over space and time of a run's model on one video, with pictures",
        description="Explain the clips a run's model classifies (its own sampling plan and eval crops): writes strip.png, "
                    "overlay.mp4, maps.npy [clips, T, crop, crop], maps_raw.npy [clips, T', H', W'] and explain.json.",
    )
    p.add_argument("video", help="the video to explain")
    p.add_argument("--run", required=True, help="run directory (with manifest.json, config.json and checkpoint.safetensors)")
    p.add_argument("--label", metavar="NAME", help="the class to explain, one of the run's labels (default: the video's top-1)")
    p.add_argument("--method", choices=["gradcam", "cam"], default="gradcam",
                   help="gradcam (default); cam: forward only, the head's post-pool layers at every location of the "
                        "pool's input (X3D, C2D, SlowFast)")
    p.add_argument("--layer", help="the module whose output Grad-CAM explains (default: x3d blocks.4, c2d_r50 blocks.5, "
                                   "slowfast_r50 blocks.4 (both pathways), mvit_v2_s the last block's norm1)")
    p.add_argument("--clip", type=int, metavar="N", help="explain only clip N of the plan (default: every clip)")
    p.add_argument("--out", help="output directory (default: RUN/explain/<video stem>/)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="videotrain",
        description="Train, export and evaluate edgevid video classifiers.",
        epilog=USAGE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _train_parser(sub)
    _make_dataset_parser(sub)
    _evaluate_parser(sub)
    _frames_parser(sub)
    _explain_parser(sub)
    from .engine.run import add_parsers as _engine_parsers  # finetune, distill

    _engine_parsers(sub)
    c = sub.add_parser("check", help="print torch, device and missing packages; exit 1 if training cannot run")
    c.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


# ---------------------------------------------------------------- check

# (module, what it is for); any failure to import counts as missing.
REQUIRED = [
    ("torch", "training"),
    ("numpy", "everything"),
    ("onnx", "export"),
    ("onnxruntime", "export parity and evaluate"),
    ("safetensors", "checkpoints"),
    ("jsonschema", "manifest validation"),
    ("tqdm", "progress bars"),
    ("matplotlib", "curves.png"),
]
VIDEO_BACKENDS = [("av", "PyAV"), ("cv2", "OpenCV")]
OPTIONAL = [("onnxscript", "the dynamo exporter (--exporter dynamo)"), ("tensorboard", "TensorBoard logs in RUN/tensorboard")]


def _version(name: str) -> tuple[str | None, str | None]:
    try:
        module = importlib.import_module(name)
    except Exception as e:  # a broken install raises more than ImportError
        return None, f"{type(e).__name__}: {e}"
    return str(getattr(module, "__version__", "installed")), None


def check() -> dict:
    report: dict = {"python": platform.python_version(), "packages": {}, "missing": [], "warnings": []}
    for name, purpose in REQUIRED + OPTIONAL + VIDEO_BACKENDS:
        version, error = _version(name)
        report["packages"][name] = version
        if version is None:
            line = f"{name} ({purpose}): {error}"
            if (name, purpose) in REQUIRED:
                report["missing"].append(line)
            elif (name, purpose) in OPTIONAL:
                report["warnings"].append(f"optional {line}")
    if not any(report["packages"][n] for n, _ in VIDEO_BACKENDS):
        report["missing"].append("a video decoder: install av (PyAV) or opencv-python-headless")
    if shutil.which("ffmpeg") is None:
        report["warnings"].append("ffmpeg not on PATH: make-dataset needs it (apt-get install ffmpeg)")

    device, gpu = "cpu", None
    if report["packages"]["torch"]:
        import torch

        if torch.cuda.is_available():
            device, gpu = "cuda", torch.cuda.get_device_name(0)
            report["bf16"] = torch.cuda.is_bf16_supported()
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            device, gpu = "mps", "Apple GPU (MPS)"
        report["cudaBuild"] = torch.version.cuda
        report["threads"] = torch.get_num_threads()
    report["device"], report["gpu"] = device, gpu
    report["cpus"] = os.cpu_count()
    report["ok"] = not report["missing"]
    return report


def _print_check(report: dict) -> None:
    p = report["packages"]
    print(f"videotrain check: Python {report['python']}, torch {p['torch'] or 'MISSING'}")
    gpu = report["gpu"] or "none"
    extra = f", bf16 {'yes' if report.get('bf16') else 'no'}" if report["device"] == "cuda" else ""
    print(f"  device: {report['device']} (GPU: {gpu}{extra}; {report['cpus']} CPUs)")
    if report["device"] == "cpu":
        print("  note: no GPU; only the tiny preset trains in reasonable time on CPU")
    others = ", ".join(f"{n} {p[n]}" for n, _ in REQUIRED[1:] + OPTIONAL + VIDEO_BACKENDS if p[n])
    print(f"  packages: {others}")
    for w in report["warnings"]:
        print(f"  warning: {w}")
    if report["missing"]:
        for m in report["missing"]:
            print(f"  missing: {m}")
        print("  cannot train: install what is missing (npm run setup:python, or pip install -r training/requirements.txt)")
    else:
        print("  ok: nothing missing")


# ---------------------------------------------------------------- main


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean "fix your input", reported without a traceback."""
    from .data.labeled import LabeledListError
    from .data.synthetic import FFmpegNotFoundError
    from .data.video import VideoReadError
    from .explain import ExplainError
    from .export import ExportError
    from .manifest import ManifestError
    from .models import UnknownModelError
    from .checkpointing import CheckpointingError
    from .distributed import DistributedError
    from .precision import PrecisionError
    from .pretrained import PretrainedError
    from .recipes import PresetError
    from .runs import RunError
    from .sampling import SamplingError
    from .train import DataError

    return (DataError, RunError, ManifestError, UnknownModelError, LabeledListError, VideoReadError,
            SamplingError, ExportError, FFmpegNotFoundError, PrecisionError, DistributedError, CheckpointingError,
            PresetError, ExplainError, PretrainedError)


def train_options(args: argparse.Namespace) -> TrainOptions:
    """`train`'s options: the preset file's recipe, then the flags given on the command line."""
    from .recipes import RECIPE_FIELDS, recipes_for, resolve
    from .train import TrainOptions

    recipe = resolve(preset=args.preset, config=args.config, arch=args.arch)
    recipe.update({f: getattr(args, f) for f in RECIPE_FIELDS if getattr(args, f) is not None})
    if "recipe" not in recipe and (known := recipes_for(recipe["arch"], recipe["preset"])):
        print(f"note: {recipe['arch']} {recipe['preset']} with the trainer's defaults; its recipe is "
              f"--preset {' or '.join(known)}", file=sys.stderr)
    return TrainOptions(
        out=args.out, data=args.data, train_list=args.train_list, val_list=args.val_list, labels=args.labels,
        root=args.root, workers=args.workers, threads=args.threads, seed=args.seed, device=args.device,
        id=args.id, version=args.version, exporter=args.exporter, opset=args.opset, resume=args.resume,
        stop_after=args.stop_after,
        progress=not args.no_progress, tensorboard=not args.no_tensorboard, torchscript=args.torchscript,
        deterministic=args.deterministic, pretrained=args.pretrained, **recipe,
    )


def _run(args: argparse.Namespace) -> int:
    if args.command == "check":
        report = check()
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            _print_check(report)
        return 0 if report["ok"] else 1

    if args.command == "make-dataset":
        from .data.synthetic import generate_dataset

        generate_dataset(
            args.out,
            clips_per_class_train=args.train_per_class,
            clips_per_class_val=args.val_per_class,
            seed=args.seed,
            workers=args.workers,
            progress=not args.quiet,
        )
        return 0

    if args.command == "evaluate":
        from .runs import evaluate_onnx

        result = evaluate_onnx(
            args.run, args.list, root=args.root, out=args.out,
            batch_size=args.batch_size, workers=args.workers, progress=not args.no_progress,
            frame_selector=args.frame_selector, clips_per_video=args.clips_per_video,
        )
        n = len(result["videos"])
        print(f"top-1 {100 * result['top1']:.2f}% on {n} videos ({result['aggregation']}); predictions: {result['out']}")
        if result["skipped"]:
            print(f"warning: {len(result['skipped'])} unreadable videos skipped (listed in the JSON)")
        return 0

    if args.command == "taylor":
        from .engine.taylor import run_taylor

        return run_taylor(args)
    if args.command in ("finetune", "distill"):
        from .engine.run import run_engine

        return run_engine(args.command, args.config, events=args.events, quiet=args.quiet)

    if args.command == "frames":
        from .frames import extract_frames, videos_from_args

        index = extract_frames(args.manifest, videos_from_args(args.video, args.list, args.root), args.out, args.format)
        clips = sum(len(item["clips"]) for item in index["items"])
        print(f"wrote {clips} clips of {len(index['items'])} videos to {args.out} (index.json lists them)")
        return 0

    if args.command == "explain":
        from .explain.command import explain

        result = explain(args.run, args.video, label=args.label, layer=args.layer, method=args.method, clip=args.clip,
                         out=args.out)
        label, n = result["label"], len(result["clips"])
        print(f"{args.method} of {label['name']} ({label['prob']:.2f}) at {result['layer']} on {n} clip{'s' * (n != 1)}, "
              f"grid {'x'.join(map(str, result['rawGrid']))}: {result['out']}")
        return 0

    from .train import train

    train(train_options(args))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:
        hint = f"; continue with --resume --out {args.out}" if args.command == "train" else ""
        print(f"\ninterrupted{hint}", file=sys.stderr)
        return 130
    except Exception as e:
        if isinstance(e, _user_errors()):
            print(f"error: {e}", file=sys.stderr)
            return 2
        raise
