"""Preset files: training recipes as JSON a user can copy (training/presets/).

A preset file names a model (`arch` and the registry's model preset, `model`)
and its recipe: input and sampling, optimizer and schedule, precision,
augmentation, test views (preset.schema.json says what each key means).
`videotrain train --preset NAME` reads the bundled training/presets/NAME.json,
`--config FILE` any file; flags given on the command line override the file.
The files are the one place recipes live: the registry holds model structure
and native input only, and TrainOptions' defaults are tiny.json's.

`--preset` also still names a bare model preset of `--arch` (`--arch c2d_r50
--preset 8x8`): then no file is read and the trainer's defaults apply.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from .jsonfile import read_json

PRESETS_DIR = Path(__file__).resolve().parents[1] / "presets"
SCHEMA_PATH = PRESETS_DIR / "preset.schema.json"

# A preset file's keys (section, key) and the TrainOptions field each sets.
FIELDS: dict[tuple[str, ...], str] = {
    ("arch",): "arch",
    ("model",): "preset",
    ("input", "frames"): "frames",
    ("input", "cropSize"): "crop_size",
    ("input", "shortSideSize"): "short_side_size",
    ("sampling", "clipDuration"): "clip_duration",
    ("sampling", "clipsPerVideo"): "clips_per_video",
    ("train", "epochs"): "epochs",
    ("train", "batchSize"): "batch_size",
    ("train", "lr"): "lr",
    ("train", "weightDecay"): "weight_decay",
    ("train", "warmupEpochs"): "warmup_epochs",
    ("train", "labelSmoothing"): "label_smoothing",
    ("train", "gradClip"): "grad_clip",
    ("train", "accumSteps"): "accum_steps",
    ("train", "amp"): "amp",
    ("train", "checkpointActivations"): "checkpoint_activations",
    ("train", "freezeBackbone"): "freeze_backbone",
    ("train", "backboneLrMult"): "backbone_lr_mult",
    ("augment", "hflip"): "hflip",
    ("augment", "randAugment"): "rand_augment",
    ("augment", "mixup"): "mixup",
    ("augment", "cutmix"): "cutmix",
    ("augment", "mixProb"): "mix_prob",
    ("test", "clips"): "test_clips",
    ("test", "crops"): "test_crops",
}
# The fields a command-line flag of the same name overrides (all but the model's).
RECIPE_FIELDS = tuple(f for f in FIELDS.values() if f not in ("arch", "preset"))


class PresetError(ValueError):
    """A preset file or name that cannot be used; the message names the file and the key."""


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _problem(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        # jsonschema's message lists the extra keys; name each with its path instead.
        known = error.schema.get("properties", {})
        extra = [k for k in error.instance if k not in known]
        return "; ".join(f"{'.'.join(filter(None, [path, k]))}: unknown key (known: {', '.join(known)})" for k in extra)
    return f"{path or '(file)'}: {error.message}"


def bundled_presets() -> list[str]:
    return sorted(p.stem for p in PRESETS_DIR.glob("*.json") if p != SCHEMA_PATH)


def bundled_path(name: str) -> Path | None:
    path = PRESETS_DIR / f"{name}.json"
    return path if name in bundled_presets() else None


def load_preset(path: str | Path) -> dict[str, Any]:
    """The TrainOptions fields a preset file sets; PresetError names the file and the bad key."""
    path = Path(path)
    doc = read_json(path, PresetError, "preset file")
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        raise PresetError(f"{path}: " + "; ".join(_problem(e) for e in errors))
    options: dict[str, Any] = {}
    for keys, field in FIELDS.items():
        section = doc if len(keys) == 1 else doc.get(keys[0], {})
        if keys[-1] in section:
            options[field] = section[keys[-1]]
    from .models import UnknownModelError, get_preset  # torch: only once a file is read

    ra = options.get("rand_augment")
    if ra is not None:
        options["rand_augment"] = (ra["numLayers"], float(ra["magnitude"]))
    # The model must exist and take this input: say which key is wrong now, not mid-run.
    try:
        get_preset(options["arch"], options["preset"])
    except UnknownModelError as e:
        raise PresetError(f"{path}: arch/model: {e}") from None
    try:
        get_preset(options["arch"], options["preset"], frames=options.get("frames"), crop_size=options.get("crop_size"),
                   short_side_size=options.get("short_side_size"))
    except UnknownModelError as e:
        raise PresetError(f"{path}: input: {e}") from None
    return options


def recipes_for(arch: str, model: str) -> list[str]:
    """Bundled preset files that train this model preset."""
    return [n for n in bundled_presets() if (o := load_preset(PRESETS_DIR / f"{n}.json"))["arch"] == arch and o["preset"] == model]


def resolve(*, preset: str | None, config: str | None, arch: str | None) -> dict[str, Any]:
    """TrainOptions fields from --config FILE, or --preset NAME / --arch ARCH.

    With --config, --arch and --preset override the file's model. Otherwise
    NAME is a bundled preset file when there is one and --arch is absent or
    agrees with it, else a model preset of --arch (default x3d); no NAME: tiny.
    """
    if config is not None:
        options = {**load_preset(config), "recipe": str(config)}
        options.update({k: v for k, v in (("arch", arch), ("preset", preset)) if v is not None})
        return options
    from .models import MODEL_REGISTRY

    name = preset or "tiny"
    path = bundled_path(name)
    if path is not None:
        options = load_preset(path)
        if arch is None or arch == options["arch"]:
            return {**options, "recipe": name}
        if arch in MODEL_REGISTRY and name not in MODEL_REGISTRY[arch].presets:
            raise PresetError(f"--preset {name}: {path} trains {options['arch']}, not --arch {arch} (leave --arch out)")
    arch = arch or "x3d"
    family = MODEL_REGISTRY.get(arch)
    if family is None:
        raise PresetError(f"--arch {arch}: unknown architecture; known: {', '.join(sorted(MODEL_REGISTRY))}")
    if name not in family.presets:
        raise PresetError(
            f"--preset {name}: not a preset file (bundled: {', '.join(bundled_presets())}; or --config FILE) "
            f"nor a model preset of {arch} ({', '.join(family.presets)})"
        )
    return {"arch": arch, "preset": name}


__all__ = ["FIELDS", "PRESETS_DIR", "PresetError", "RECIPE_FIELDS", "bundled_presets", "load_preset", "recipes_for", "resolve"]
