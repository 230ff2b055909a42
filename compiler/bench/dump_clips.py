"""Clips as the Python evaluator feeds them (the manifest's sampling plan and
eval transform, `videotrain evaluate`'s pipeline), saved for the compiler:
one float32 .npy [C,T,H,W] per clip and labels.txt (`<file> <label index>`),
compiler/quantize/clips.ts's format. Used by the quantization benchmark.

usage: dump_clips.py MANIFEST LIST OUT_DIR [--max N]
"""

import argparse
import json
import pathlib
import sys

import numpy as np

from videotrain.data.dataset import ClipDataset
from videotrain.data.labeled import load_labeled_list
from videotrain.transforms import eval_transform


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("manifest", type=pathlib.Path)
    p.add_argument("list", type=pathlib.Path)
    p.add_argument("out", type=pathlib.Path)
    p.add_argument("--max", type=int, default=0, help="at most this many clips (0: all)")
    a = p.parse_args(argv)
    manifest = json.loads(a.manifest.read_text())
    items = load_labeled_list(a.list, None)
    ds = ClipDataset(items, dict(manifest["sampling"]), eval_transform(manifest["input"]), mode="eval")
    a.out.mkdir(parents=True, exist_ok=True)
    lines = []
    count = len(ds) if a.max <= 0 else min(a.max, len(ds))
    for i in range(count):
        item = ds[i]
        name = f"clip{i:04d}.npy"
        np.save(a.out / name, item["video"].numpy().astype(np.float32))
        lines.append(f"{name} {int(item['label'])}")
    (a.out / "labels.txt").write_text("\n".join(lines) + "\n")
    print(json.dumps({"clips": count, "out": str(a.out)}))


if __name__ == "__main__":
    main(sys.argv[1:])
