#!/usr/bin/env bash
# `npm start`: the Worker on the bundled default model (models/default), on
# http://127.0.0.1:$PORT (default 8787), then a ready-to-run curl example.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
EDGEVID_SKIP_PYTHON=1 bash scripts/ensure-deps.sh
port="${PORT:-8787}"
# Keys are optional locally (wrangler.toml requires them when deployed); a key
# made with `npm run keys -- create` is still checked when a request sends one.
# PERSIST_TO keeps the local KV/R2/Durable Object state elsewhere than .wrangler/state (the browser tests' own).
npx wrangler dev --port "$port" --ip 127.0.0.1 --show-interactive-dev-session=false --log-level warn --var REQUIRE_API_KEY:false ${PERSIST_TO:+--persist-to "$PERSIST_TO"} &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 240); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { echo "start: wrangler dev exited" >&2; exit 1; }
  sleep 0.5
done
frames=""
for f in examples/frames/*.jpg; do frames="$frames -F frames=@$f"; done
cat <<MSG

edgevid is serving models/default on http://127.0.0.1:$port  (Ctrl-C stops it)

  # open http://127.0.0.1:$port/ in a browser: the playground page

  # classify the 8 frames of examples/frames (a held-out synthetic clip):
  curl -s$frames 'http://127.0.0.1:$port/v1/classify?topk=3'

  curl -s http://127.0.0.1:$port/v1/models      # what is served
MSG
wait "$pid"
