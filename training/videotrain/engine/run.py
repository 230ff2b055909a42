"""Entry point for `videotrain finetune|distill --config FILE [--events FILE]`: config in, events out.

Every run ends with exactly one "result" event (exit 0) or one "error" event:
exit 2 for a problem with the inputs (config, data, models), which the
message names; exit 1 with a traceback on stderr for a bug.
"""

from __future__ import annotations

from pathlib import Path

from .config import load_config
from .progress import Progress


def add_parsers(sub) -> None:
    """The finetune, distill and taylor subcommands of `videotrain`."""
    for name, text in (
        ("finetune", "continue training a model (ONNX + manifest, or a run dir), optionally distilling from a teacher"),
        ("distill", "train a zoo student against an ONNX teacher (KL on softened logits + label cross-entropy)"),
    ):
        p = sub.add_parser(name, help=text, description=f"{text}. Config: training/videotrain/engine/config.schema.json; "
                           "progress: JSON lines (training/videotrain/engine/README.md).")
        p.add_argument("--config", required=True, help="JSON config (relative paths in it start from its directory)")
        p.add_argument("--events", help="append the JSON-lines events to this file instead of stdout")
        p.add_argument("--quiet", action="store_true", help="no human progress on stderr")
    from .taylor import add_parser as taylor_parser  # per-channel importance for the compiler's pruner

    taylor_parser(sub)


def run_engine(command: str, config: str | Path, events: str | Path | None = None, quiet: bool = False) -> int:
    from ..cli import _user_errors  # the exception types that mean "fix your input"
    from .config import ConfigError
    from .onnx_import import OnnxImportError

    progress = Progress(events, quiet=quiet)
    try:
        cfg = load_config(config, command)
        if command == "finetune":
            from .finetune import finetune as go
        else:
            from .distill import distill as go
        result = go(cfg, progress)
        progress.event("result", ok=True, command=command, **result)
        return 0
    except (ConfigError, OnnxImportError, *_user_errors()) as e:
        progress.event("error", ok=False, command=command, kind="input", message=str(e))
        progress.say(f"error: {e}")
        return 2
    except KeyboardInterrupt:
        progress.event("error", ok=False, command=command, kind="interrupted", message="interrupted")
        return 130
    except Exception as e:
        progress.event("error", ok=False, command=command, kind="internal", message=f"{type(e).__name__}: {e}")
        raise
    finally:
        progress.close()


__all__ = ["add_parsers", "run_engine"]
