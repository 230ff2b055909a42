#!/usr/bin/env bash
# `npm test`: every test in the project. Type-checks, then the TypeScript tests
# (contract, compiler and the end-to-end pipeline in Node; the Worker inside
# workerd), then the Python tests. Each runner prints its own counts.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/ensure-deps.sh
echo "== typecheck"
npx tsc --noEmit -p .
echo "== contract schema is current"
npx tsx scripts/contract-schema.ts --check
echo "== TypeScript tests (vitest: node + workerd)"
npx vitest run
echo "== Python tests (pytest)"
cd training && OMP_NUM_THREADS=2 ../.venv/bin/python -m pytest -q
