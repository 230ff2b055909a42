"""Machine-readable progress: one JSON object per line (protocol in README.md).

Events go to stdout, or to a file (--events), flushed line by line so a parent
process reads them as they happen; sentences for people go to stderr.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import IO, Any

PROTOCOL_VERSION = 1


def _clean(value: Any) -> Any:
    # JSON has no NaN/Infinity: a diverged loss is reported as null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class Progress:
    def __init__(self, events: str | Path | None = None, quiet: bool = False):
        self._file: IO[str] = open(events, "a", encoding="utf-8") if events else sys.stdout
        self._own = events is not None
        self.quiet = quiet

    def event(self, name: str, **fields: Any) -> None:
        self._file.write(json.dumps(_clean({"event": name, **fields}), allow_nan=False) + "\n")
        self._file.flush()

    def say(self, line: str) -> None:
        if not self.quiet:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._own:
            self._file.close()


__all__ = ["PROTOCOL_VERSION", "Progress"]
