"""`videotrain taylor`: first-order Taylor importance of every channel of an ONNX graph, for the compiler's pruner.

    videotrain taylor --model M.onnx --manifest M.json --data DIR --out scores.json
                      [--batches 4] [--batch-size 4] [--threads 1] [--seed 0] [--events FILE] [--quiet]

For each Conv and Gemm output (channels on axis 1) and MatMul output (last
axis), score[c] = mean over clips of |sum over the other positions of
activation * d(loss)/d(activation)| (Molchanov et al. 2017), on a few
training batches, with cross-entropy against the labels. The graph runs
through the ONNX importer in eval mode (BatchNorm statistics stay fixed).

Writes scores.json: {"protocol": 1, "model", "sha256", "clips", "batches",
"scores": {value name: [score per channel]}}. Events (JSON lines, like
finetune): "start", then "result" {ok, command, outputs: {scores}, values,
clips} or "error" {kind, message}; exit 0 / 2 (input) / 1 (bug).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from .progress import PROTOCOL_VERSION, Progress

# The axis each scored op puts its channels on (-1: the last).
_CHANNEL_AXIS = {"Conv": 1, "Gemm": 1, "MatMul": -1}


def add_parser(sub) -> None:
    text = "per-channel Taylor importance (|activation x gradient|) of an ONNX graph's conv/gemm/matmul outputs, for pruning"
    p = sub.add_parser("taylor", help=text, description=f"{text}. Progress: JSON lines (training/videotrain/engine/README.md).")
    p.add_argument("--model", required=True, help="the ONNX graph")
    p.add_argument("--manifest", required=True, help="its manifest.json (labels, input spec, sampling)")
    p.add_argument("--data", required=True, help="a dataset directory (like `train --data`)")
    p.add_argument("--out", required=True, help="where to write the scores (JSON)")
    p.add_argument("--batches", type=int, default=4, help="training batches to average over (default 4)")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--events", help="append the JSON-lines events to this file instead of stdout")
    p.add_argument("--quiet", action="store_true", help="no human progress on stderr")


def taylor_scores(module, loader, batches: int) -> tuple[dict[str, list[float]], int]:
    """(scores per value name, clips seen)."""
    import torch
    from torch.nn import functional as F

    axes = {outputs[0]: _CHANNEL_AXIS[op] for op, _, outputs, _, _ in module.nodes if op in _CHANNEL_AXIS}
    sums: dict[str, torch.Tensor] = {}

    def observe(name: str, value: torch.Tensor) -> None:
        if name not in axes or not value.requires_grad:
            return
        axis = axes[name] % value.dim()

        def on_grad(grad: torch.Tensor, a=value.detach()) -> None:
            # |sum over positions of a * g| per clip and channel, summed over clips.
            per_clip = (a * grad).movedim(axis, -1).reshape(a.shape[0], -1, a.shape[axis]).sum(1).abs().sum(0)
            sums[name] = sums[name] + per_clip if name in sums else per_clip

        value.register_hook(on_grad)

    module.eval()
    module.observe = observe
    clips = used = 0
    try:
        for batch in loader:
            if used == batches:
                break
            x, y = batch["video"], batch["label"]
            module.zero_grad(set_to_none=True)
            F.cross_entropy(module(x), y).backward()
            clips += y.shape[0]
            used += 1
    finally:
        module.observe = None
    return {name: (s / max(clips, 1)).tolist() for name, s in sums.items()}, clips


def run_taylor(args) -> int:
    # Imported here: building the CLI's parser must not load torch.
    import torch

    from ..cli import _user_errors
    from ..data.dataset import ClipDataset
    from ..data.labeled import LabeledListError, load_labels
    from ..train import DataError, TrainOptions, _loader, load_items, resolve_data, seed_everything
    from ..transforms import eval_transform
    from .config import ConfigError, ModelSource
    from .onnx_import import OnnxImportError
    from .sources import load_source

    progress = Progress(args.events, quiet=args.quiet)
    try:
        model_path = Path(args.model)
        loaded = load_source(ModelSource(onnx=model_path.resolve(), manifest=Path(args.manifest).resolve()), "model", model_path)
        if args.batches < 1 or args.batch_size < 1:
            raise ConfigError(f"--batches and --batch-size must be at least 1 (got {args.batches}, {args.batch_size})")
        m = loaded.manifest
        progress.event("start", protocol=PROTOCOL_VERSION, command="taylor", model={"source": str(model_path), "sha256": loaded.sha256},
                       batches=args.batches)
        torch.set_num_threads(args.threads)
        seed_everything(args.seed, False)
        data = resolve_data(TrainOptions(out=str(Path(args.out).resolve().parent), data=args.data))
        try:
            labels = load_labels(data.labels_file)
        except LabeledListError as e:
            raise DataError(str(e)) from None
        if labels != m["labels"]:
            raise DataError(f"{data.labels_file}: labels {labels} differ from the model's {m['labels']}")
        ds = ClipDataset(load_items(data.train_list, data.root, labels), m["sampling"], eval_transform(m["input"]), mode="eval",
                         seed=args.seed, on_decode_error="skip")
        loader = _loader(ds, args.batch_size, True, SimpleNamespace(workers=0), torch.device("cpu"), args.seed)
        scores, clips = taylor_scores(loaded.module, loader, args.batches)
        out = Path(args.out)
        out.write_text(json.dumps({"protocol": PROTOCOL_VERSION, "model": str(model_path), "sha256": loaded.sha256, "clips": clips,
                                   "batches": args.batches, "scores": scores}) + "\n")
        progress.say(f"taylor: {len(scores)} values scored on {clips} clips -> {out}")
        progress.event("result", ok=True, command="taylor", outputs={"scores": str(out)}, values=len(scores), clips=clips)
        return 0
    except (ConfigError, OnnxImportError, *_user_errors()) as e:
        progress.event("error", ok=False, command="taylor", kind="input", message=str(e))
        progress.say(f"error: {e}")
        return 2
    except KeyboardInterrupt:
        progress.event("error", ok=False, command="taylor", kind="interrupted", message="interrupted")
        return 130
    except Exception as e:
        progress.event("error", ok=False, command="taylor", kind="internal", message=f"{type(e).__name__}: {e}")
        raise
    finally:
        progress.close()


__all__ = ["add_parser", "run_taylor", "taylor_scores"]
