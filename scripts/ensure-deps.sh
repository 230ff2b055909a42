#!/usr/bin/env bash
# Installs what the project needs on this machine, once: npm packages, ffmpeg
# and chromium (Debian), and the Python environment. Sourced by start.sh and test.sh so the
# README's commands work on a fresh clone; .ci/run calls it too.
# EDGEVID_SKIP_PYTHON=1 skips the Python environment (serving needs none).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [ ! -d "$root/node_modules/.bin" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
  echo "deps: installing npm packages (npm ci)"
  # onnxruntime-node's install step downloads CUDA files; there is no network for it.
  (cd "$root" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund)
fi

# The Worker's H.264 decoder (FFmpeg → wasm); a build takes a few minutes, once.
if [ ! -f "$root/worker/decoder/build/h264.wasm" ]; then
  bash "$root/worker/decoder/build.sh"
fi

if [ "${EDGEVID_SKIP_PYTHON:-0}" != 1 ]; then
  # Debian packages the tests use: ffmpeg makes the test videos, chromium runs the page's browser tests.
  missing=()
  command -v ffmpeg >/dev/null || missing+=(ffmpeg)
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "deps: installing ${missing[*]} (Debian)"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
      echo "deps: missing Debian packages: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
      exit 1
    fi
  fi
  bash "$root/scripts/setup-python.sh"
fi
