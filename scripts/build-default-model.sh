#!/usr/bin/env bash
# Rebuilds models/default with the project's own pipeline: the synthetic
# dataset → `npm run train` (tiny X3D, CPU is enough) → `npm run compile`,
# plus examples/frames (a held-out clip's frames for the README's curl).
# About 15 minutes on two CPU cores. WORK=dir keeps the intermediate files.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/ensure-deps.sh
work="${WORK:-$root/.cache/default-model}"
id=synthetic-motion-x3d-tiny
version="${VERSION:-1}"
python="$root/.venv/bin/python"

npx tsx training/cli.ts make-dataset --out "$work/data" --train-per-class 80 --val-per-class 10 --seed 0
npx tsx training/cli.ts train --data "$work/data" --arch x3d --preset tiny --seed 0 \
  --threads 2 --workers 1 --id "$id" --version "$version" --out "$work/run"
rm -rf "$work/compiled"
npx tsx compiler/cli.ts "$work/run" --out "$work/compiled" --explain
"$python" -m videotrain evaluate --run "$work/compiled" --list "$work/data/val.txt" --out "$work/compiled/eval-val.json"

rm -rf models/default && mkdir -p models/default
cp "$work/compiled/model.onnx" "$work/compiled/manifest.json" models/default/
cp "$work/run/curves.png" "$work/run/metrics.json" models/default/

# The README's example: the first held-out clip of the "rotate_cw" class.
clip="$(grep -m1 '/rotate_cw/' "$work/data/val.txt" | cut -d' ' -f1)"
rm -rf "$work/frames" examples/frames && mkdir -p examples/frames
"$python" -m videotrain frames --manifest models/default/manifest.json "$work/data/$clip" --out "$work/frames"
cp "$work/frames"/video00000/clip0/*.jpg examples/frames/
echo "default model: models/default ($(du -h models/default/model.onnx | cut -f1)), example frames: examples/frames"
