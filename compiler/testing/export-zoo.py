"""Exports one zoo model (random weights) to ONNX for the compiler's tests,
with the training package's own parameter and multiply-add counts.

    .venv/bin/python compiler/testing/export-zoo.py --arch x3d --preset tiny \
        --exporter torchscript --out DIR [--classes 5]

writes DIR/model.onnx and DIR/info.json {"params", "macs", "inputShape",
"exporter", "ops"}; macs is count_macs at batch 1 (conv, matmul, gemm,
einsum multiply-adds; BatchNorm none).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "training"))

from videotrain.export import EXPORTERS, export_onnx  # noqa: E402
from videotrain.models.profile import count_macs, count_params  # noqa: E402
from videotrain.models.registry import build_model, get_preset  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", required=True)
    p.add_argument("--preset", required=True)
    p.add_argument("--exporter", choices=EXPORTERS, required=True)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--classes", type=int, default=5)
    args = p.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(0)
    preset = get_preset(args.arch, args.preset)
    model = build_model(args.arch, args.preset, args.classes).eval()
    spec = {"frames": preset.frames, "cropSize": preset.crop_size}
    shape = (3, preset.frames, preset.crop_size, preset.crop_size)
    args.out.mkdir(parents=True, exist_ok=True)
    exported = export_onnx(model, spec, args.out / "model.onnx", exporter=args.exporter)
    info = {
        "params": count_params(model),
        "macs": count_macs(model, shape),
        "inputShape": [1, *shape],
        "exporter": args.exporter,
        "ops": exported["ops"],
    }
    (args.out / "info.json").write_text(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
