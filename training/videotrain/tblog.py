"""TensorBoard scalars in RUN/tensorboard (`tensorboard --logdir RUN`).

Optional: without the `tensorboard` package (it is in requirements.txt) the
run goes on and says so once.
"""

from __future__ import annotations

from pathlib import Path


class ScalarLog:
    def __init__(self, path: Path | None):
        """path None: log nothing (non-zero ranks, or --no-tensorboard)."""
        self.writer = None
        self.missing: str | None = None
        if path is None:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as e:
            self.missing = f"no TensorBoard logs ({e}); pip install tensorboard"
            return
        self.writer = SummaryWriter(log_dir=str(path))

    def scalars(self, values: dict[str, float], step: int) -> None:
        """Names like `val.top1` become tags `val/top1` (TensorBoard groups by the prefix)."""
        if self.writer is None:
            return
        for name, value in values.items():
            self.writer.add_scalar(name.replace(".", "/"), float(value), step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
