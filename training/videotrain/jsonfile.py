"""Reading a user's JSON file with errors that name the file and the problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json(path: Path, error: type[Exception], what: str) -> Any:
    """The parsed document; `error` ("<path>: <what> not found" / "not valid JSON: ...") otherwise."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except json.JSONDecodeError as e:
        raise error(f"{path}: not valid JSON: {e}") from None
