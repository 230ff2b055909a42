#!/usr/bin/env bash
# Creates the project-local Python environment (.venv) that `npm run train`
# and the Python tests use. Idempotent: re-running only installs what changed.
# PYTHON=/path/to/python3.11 picks the interpreter; on a GPU box with CUDA torch
# already in that interpreter, pass VENV_SYSTEM_SITE=1 to reuse it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; assert sys.version_info >= (3, 10)' 2>/dev/null; then
  echo "setup-python: $python is missing or older than 3.10; set PYTHON=/path/to/python3" >&2
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  args=()
  [ "${VENV_SYSTEM_SITE:-0}" = 1 ] && args+=(--system-site-packages)
  "$python" -m venv "${args[@]}" "$venv"
fi
stamp="$venv/.requirements.sha256"
want="$(cat "$root/training/requirements.txt" "$root/training/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "setup-python: $venv is up to date"
  exit 0
fi
# --retries/--timeout: without them pip keeps retrying unreachable indexes for minutes.
pip_flags=(--disable-pip-version-check --retries 0 --timeout 5)
"$venv/bin/python" -m pip install "${pip_flags[@]}" -r "$root/training/requirements.txt"
"$venv/bin/python" -m pip install "${pip_flags[@]}" --no-deps --no-build-isolation -e "$root/training"
echo "$want" > "$stamp"
echo "setup-python: ready ($("$venv/bin/python" -c 'import torch; print("torch", torch.__version__, "cuda" if torch.cuda.is_available() else "cpu")'))"
