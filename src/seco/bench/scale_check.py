"""What ``seco bench scale`` needs, checked before anything runs: device, GPU memory, disk, cores.

A GPU call is short and paid for, so a missing resource must stop the
command at once with one line that names it, not after the pretraining.
Host memory is not checked: on the lent GPU machines it grows with use, so
the free memory read at the start says nothing.
"""

from __future__ import annotations

import os
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from seco.bench.scale_settings import ScaleSettings
from seco.config import ConfigError

__all__ = ["GIB", "Resources", "check_resources", "disk_need_bytes"]

GIB = 2**30
IMAGE_BYTES_PER_PIXEL = 1.0
"""Disk per benchmark image and pixel: JPEG, mask and context PNG (24 KB at 160 px, measured)."""
RUN_EXTRA_BYTES = 8e6
"""Disk per run besides its checkpoint: TensorBoard events, report, figures, metrics."""


@dataclass(frozen=True)
class Resources:
    """What the machine offers and how the command will use it."""

    device: str
    cores: int
    load: float
    procs: int
    pretrain_workers: int
    gpu_free_gib: float | None
    disk_free_gib: float
    disk_need_gib: float


def encoder_parameters(s: ScaleSettings) -> int:
    """Parameters of the ViT of these sizes, near enough for a disk estimate (12 W^2 per block)."""
    return 12 * s.width * s.width * s.depth + (s.image_size // s.patch) ** 2 * s.width


def disk_need_bytes(s: ScaleSettings, runs: int) -> float:
    """Bytes the benchmark, the start and ``runs`` runs write, with a margin of half again.

    A run's checkpoint holds the student, the teacher (about the student's
    size) and AdamW's two moments: four copies of the weights in float32.
    """
    params = encoder_parameters(s) * 1.3  # heads, projection and segmentation decoder
    images = (s.n_train + s.n_val) * s.image_size**2 * IMAGE_BYTES_PER_PIXEL
    start = 0 if s.start else params * 4 * 4
    return 1.5 * (images + start + runs * (params * 4 * 4 + RUN_EXTRA_BYTES))


def _existing_parent(path: Path) -> Path:
    path = path.resolve()
    while not path.exists():
        path = path.parent
    return path


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _gpu(s: ScaleSettings) -> tuple[str, float | None]:
    """The device's name and free GiB (None on the CPU); an error line when CUDA was asked for and is absent."""
    if s.device == "cpu":
        return f"CPU ({platform.processor() or platform.machine()})", None
    if not torch.cuda.is_available():
        built = torch.version.cuda or "no CUDA"
        raise ConfigError(f"bench scale needs a CUDA GPU (--device cuda) and torch {torch.__version__} ({built}) "
                          "sees none; run it where a GPU is, or pass --tiny (or --device cpu) for the CPU")
    free, _ = torch.cuda.mem_get_info()
    return torch.cuda.get_device_name(), free / GIB


def check_resources(s: ScaleSettings, out: Path, jobs: int) -> Resources:
    """Check device, GPU memory, disk and cores for ``jobs`` runs; choose the process counts.

    ``--procs 0`` takes as many processes as the runs, the cores (one each;
    the loader workers share what is left) and the GPU memory (``--gpu-gib-per-proc``
    each) allow. Raises :class:`~seco.config.ConfigError` with one line naming
    what is missing.
    """
    device, gpu_free = _gpu(s)
    cores, load = _cores(), os.getloadavg()[0]
    by_memory = jobs if gpu_free is None or not s.gpu_gib_per_proc else int(gpu_free // s.gpu_gib_per_proc)
    procs = s.procs or min(jobs, cores, by_memory)
    if procs > cores:
        raise ConfigError(f"bench scale --procs {procs} needs {procs} CPU cores (one per training process) and "
                          f"this machine gives {cores}; pass --procs {cores} or fewer")
    if gpu_free is not None and procs * s.gpu_gib_per_proc > gpu_free:
        raise ConfigError(f"bench scale needs {procs * s.gpu_gib_per_proc:.1f} GiB of free GPU memory ({procs} "
                          f"processes x --gpu-gib-per-proc {s.gpu_gib_per_proc}) and {device} has {gpu_free:.1f} "
                          f"GiB free; pass --procs {max(1, by_memory)} or free the GPU")
    if procs < 1:
        raise ConfigError(f"bench scale: not one training process fits: {device} has {gpu_free:.1f} GiB free, "
                          f"--gpu-gib-per-proc {s.gpu_gib_per_proc}")
    folder = _existing_parent(out)
    free_disk = shutil.disk_usage(folder).free
    need_disk = disk_need_bytes(s, jobs)
    if need_disk > free_disk:
        raise ConfigError(f"bench scale needs about {need_disk / GIB:.1f} GiB of disk under {out} and {folder} has "
                          f"{free_disk / GIB:.1f} GiB free; pass another --out or smaller sizes")
    pretrain_workers = 0 if s.start or gpu_free is None else max(0, cores - s.gen_workers - 1)  # CPU: no room
    return Resources(device, cores, load, procs, pretrain_workers, gpu_free, free_disk / GIB, need_disk / GIB)
