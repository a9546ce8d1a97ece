"""TensorBoard scalars, written by the main process only."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ScalarLogger"]


class ScalarLogger:
    """A thin TensorBoard writer; ``log_dir=None`` makes every call a no-op."""

    def __init__(self, log_dir: Path | None) -> None:
        self.writer = None
        if log_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(log_dir))

    def log(self, scalars: dict[str, float], step: int) -> None:
        if self.writer is not None:
            for key, value in scalars.items():
                self.writer.add_scalar(key, value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
