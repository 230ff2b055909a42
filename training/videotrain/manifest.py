"""The model manifest, validated against contract/manifest.schema.json.

The schema is generated from the TypeScript zod schema (contract/manifest.ts),
so both languages apply the same rules. The few cross-field rules JSON Schema
cannot express are checked here with the same messages as the zod refinements.
"""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "contract" / "manifest.schema.json"


class ManifestError(ValueError):
    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid manifest: " + "; ".join(f"{p}: {m}" for p, m in problems))


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    if not SCHEMA_PATH.is_file():
        raise FileNotFoundError(f"{SCHEMA_PATH}: the manifest JSON Schema is missing (run `npm run contract:schema`)")
    schema = json.loads(SCHEMA_PATH.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(root)"


def validate_manifest(obj: Any, source: str = "manifest") -> dict:
    """Returns the manifest if valid; raises ManifestError naming every bad field."""
    errors = sorted(_validator().iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    problems = [(_path(e), e.message) for e in errors]
    if not problems:
        if obj["sampling"]["frames"] != obj["input"]["frames"]:
            problems.append(("sampling.frames", f"must equal input.frames ({obj['input']['frames']})"))
        if obj["input"]["cropSize"] > obj["input"]["shortSideSize"]:
            problems.append(("input.cropSize", "cropSize must not exceed shortSideSize"))
        if any(s <= 0 for s in obj["input"]["std"]):
            problems.append(("input.std", "every std must be > 0"))
        if len(set(obj["labels"])) != len(obj["labels"]):
            problems.append(("labels", "labels must be unique"))
    if problems:
        raise ManifestError(source, problems)
    return obj


def load_manifest(path: str | Path) -> dict:
    path = Path(path)
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError:
        raise ManifestError(str(path), [("(root)", "file not found")]) from None
    except json.JSONDecodeError as e:
        raise ManifestError(str(path), [("(root)", f"not valid JSON: {e}")]) from None
    return validate_manifest(obj, str(path))


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
