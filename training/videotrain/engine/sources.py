"""Models the engine starts from: a run directory (PyTorch weights) or an ONNX file with its manifest."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
from torch import nn

from ..manifest import ManifestError, load_manifest, sha256_file
from ..runs import RunDir, RunError, load_model, read_manifest
from .config import ConfigError, ModelSource
from .onnx_import import OnnxModule, load_onnx_module


@dataclass
class LoadedModel:
    module: nn.Module
    manifest: dict[str, Any]
    onnx_path: Path
    sha256: str
    # The run's config.json (arch, modelKwargs) for a run; None for an ONNX file.
    config: dict[str, Any] | None = None
    # The parsed graph the module came from (ONNX sources): write_onnx puts weights back into it.
    graph: onnx.ModelProto | None = None

    @property
    def parent(self) -> dict[str, str]:
        """The manifest's provenance.parent for a model derived from this one."""
        return {"id": self.manifest["id"], "version": self.manifest["version"], "sha256": self.sha256}


def load_source(source: ModelSource, what: str, config_path: Path) -> LoadedModel:
    """`what` names the config field ("model", "teacher") in errors."""
    try:
        if source.run is not None:
            run = RunDir(source.run)
            manifest = read_manifest(run)  # checks the ONNX file's sha256 too
            module, config = load_model(run)
            onnx_path = run.path / manifest["model"]["file"]
            return LoadedModel(module, manifest, onnx_path, manifest["model"]["sha256"], config=config)
        assert source.onnx is not None and source.manifest is not None  # the schema requires both
        manifest = load_manifest(source.manifest)
        module, graph = load_onnx_module(source.onnx)
        return LoadedModel(module, manifest, source.onnx, sha256_file(source.onnx), graph=graph)
    except (RunError, ManifestError, ValueError) as e:
        raise ConfigError(f"{config_path}: {what}: {e}") from None


def is_graph(model: LoadedModel) -> bool:
    return isinstance(model.module, OnnxModule)


__all__ = ["LoadedModel", "is_graph", "load_source"]
