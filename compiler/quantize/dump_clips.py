"""Dumps model inputs for `npm run compile -- quantize --calib/--eval DIR`.

Runs a `path label` list through the Python evaluator's own clip pipeline
(ClipDataset with the manifest's sampling plan and eval transform, exactly
what `videotrain evaluate` feeds the model) and writes DIR/clips.npy
(float32 [N,C,T,H,W]) and DIR/labels.txt ("clips.npy l0,l1,...").

  .venv/bin/python compiler/quantize/dump_clips.py --manifest models/default/manifest.json \
      --list data/val.txt --out calib/
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "training"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", required=True)
    p.add_argument("--list", required=True, help="`path label` lines, paths relative to the list's directory")
    p.add_argument("--out", required=True)
    p.add_argument("--clips-per-video", type=int, help="override the plan's clip sampler (N evenly spaced clips)")
    args = p.parse_args()

    import numpy as np

    from videotrain.data.dataset import ClipDataset
    from videotrain.data.labeled import load_labeled_list
    from videotrain.transforms import eval_transform

    manifest = json.loads(Path(args.manifest).read_text())
    plan = dict(manifest["sampling"])
    if args.clips_per_video:
        plan["clipSampler"] = {"kind": "constant_clips_per_video", "clipsPerVideo": args.clips_per_video}
    items = load_labeled_list(args.list, None)
    if not items:
        sys.exit(f"{args.list}: no videos listed")
    ds = ClipDataset(items, plan, eval_transform(manifest["input"]), mode="eval")
    clips, labels = [], []
    for i in range(len(ds)):
        item = ds[i]
        clips.append(item["video"].numpy().astype(np.float32))
        labels.append(int(item["label"]))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "clips.npy", np.stack(clips))
    (out / "labels.txt").write_text(f"clips.npy {','.join(map(str, labels))}\n")
    print(f"wrote {len(clips)} clips {list(np.stack(clips).shape)} to {out / 'clips.npy'}")


if __name__ == "__main__":
    main()
