"""Run a few SeCo steps under torchrun and save this rank's reservoir and prototypes (a test helper).

    torchrun --nproc_per_node 2 tests/ddp_state_probe.py OUT_DIR CONFIG_OVERRIDES...
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from seco.config import load_config
from seco.data import build_dataset
from seco.engine import dist
from seco.engine.loader import TrainStream, to_device
from seco.engine.train import build_training
from seco.method.seco import SeCoMethod


def main() -> None:
    out, overrides = Path(sys.argv[1]), sys.argv[2:]
    cfg = load_config("synthetic", overrides)
    device = dist.init_distributed("cpu")
    views = SeCoMethod.wants_global_view(cfg.method)
    data = build_dataset(cfg.data, cfg.data.train_split, train=True, global_view=views)
    run = build_training(cfg, device, data.num_classes, list(data.class_names))
    net = DistributedDataParallel(run.net, find_unused_parameters=True)
    batches = TrainStream(data, cfg.train.batch_size, cfg.seed, 0, dist.rank(), dist.world_size()).iterate(0)
    for iteration in range(cfg.train.iterations):
        run.step(net, to_device(next(batches), device), iteration)
    torch.save({k: v for k, v in run.method.state_dict().items() if k.startswith(("reservoir", "prototypes"))},
               out / f"rank{dist.rank()}.pt")
    dist.cleanup()


if __name__ == "__main__":
    main()
