"""The peer: onnxruntime's own post-training quantizer on the same model and
the same calibration clips as ours (compiler/quantize/clips.ts's format: a
directory of float32 .npy files, each one clip [C,T,H,W] or a batch
[N,C,T,H,W]). QDQ, symmetric per-channel int8 weights, the activation type
given; first onnxruntime's recommended pre-processing (quant_pre_process:
shape inference and graph optimization, which folds BatchNorm), so the peer
runs as its documentation says it should. Prints one JSON line: {"out", "bytes", "clips"}.

usage: quantize_static.py MODEL CLIPS_DIR OUT [--activation uint8|int8] [--method minmax|percentile|entropy]
"""

import argparse
import json
import pathlib
import sys
import tempfile

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, quant_pre_process, CalibrationMethod, QuantFormat, QuantType, quantize_static

METHODS = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile, "entropy": CalibrationMethod.Entropy}
TYPES = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}


def read_clips(directory: pathlib.Path, rank: int) -> list[np.ndarray]:
    """Every clip as a batch of one, in file-name order (as the TypeScript reader)."""
    files = sorted(directory.glob("*.npy"))
    if not files:
        raise SystemExit(f"error: {directory}: no .npy clips")
    clips = []
    for f in files:
        a = np.load(f)
        if a.dtype != np.float32:
            raise SystemExit(f"error: {f}: dtype {a.dtype}, expected float32")
        if a.ndim == rank - 1:
            a = a[None]
        if a.ndim != rank:
            raise SystemExit(f"error: {f}: shape {list(a.shape)}, expected a clip of rank {rank - 1} or a batch of rank {rank}")
        clips.extend(a[i : i + 1] for i in range(a.shape[0]))
    return clips


class Clips(CalibrationDataReader):
    def __init__(self, name: str, clips: list[np.ndarray]):
        self.feeds = iter([{name: c} for c in clips])

    def get_next(self):
        return next(self.feeds, None)


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("model", type=pathlib.Path)
    p.add_argument("clips", type=pathlib.Path)
    p.add_argument("out", type=pathlib.Path)
    p.add_argument("--activation", choices=TYPES, default="uint8")
    p.add_argument("--method", choices=METHODS, default="minmax")
    a = p.parse_args(argv)
    model = onnx.load(a.model)
    initializers = {t.name for t in model.graph.initializer}
    (graph_input,) = [i for i in model.graph.input if i.name not in initializers]
    rank = len(graph_input.type.tensor_type.shape.dim)
    clips = read_clips(a.clips, rank)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = pathlib.Path(tmp) / "prepared.onnx"
        quant_pre_process(str(a.model), str(prepared))
        quantize(prepared, a, graph_input.name, clips)
    print(json.dumps({"out": str(a.out), "bytes": a.out.stat().st_size, "clips": len(clips)}))


def quantize(model: pathlib.Path, a: argparse.Namespace, input_name: str, clips: list[np.ndarray]) -> None:
    quantize_static(
        str(model),
        str(a.out),
        Clips(input_name, clips),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=TYPES[a.activation],
        weight_type=QuantType.QInt8,
        calibrate_method=METHODS[a.method],
    )


if __name__ == "__main__":
    main(sys.argv[1:])
