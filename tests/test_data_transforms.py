"""Transforms, collation and loader determinism."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader

from seco.config import DataConfig
from seco.data import EvalTransform, TrainTransform, build_dataset, pad_collate
from seco.data.transforms import random_crop


def _pair(height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """An image whose red channel is 10 x the mask value, so the two can be compared after transforms."""
    mask = torch.randint(0, 20, (height, width), generator=torch.Generator().manual_seed(0))
    ramp = torch.arange(width).expand(height, width)
    image = torch.stack([mask * 10, torch.full_like(mask, 7), ramp]).to(torch.uint8)
    return image, mask


def test_crop_pads_small_image_and_reports_box() -> None:
    image, mask = torch.ones(3, 20, 30), torch.ones(20, 30, dtype=torch.int64)
    for seed in range(5):
        torch.manual_seed(seed)
        out_image, out_mask, box = random_crop(image, mask, 40, 255)
        y0, y1, x0, x1 = box.tolist()
        assert (y1 - y0, x1 - x0) == (20, 30)
        inside = torch.zeros(40, 40, dtype=torch.bool)
        inside[y0:y1, x0:x1] = True
        assert torch.all(out_mask[inside] == 1) and torch.all(out_mask[~inside] == 255)
        assert torch.all(out_image[:, inside] == 1) and torch.all(out_image[:, ~inside] == 0)


def test_crop_of_large_image_is_all_content() -> None:
    image, mask = _pair(50, 60)
    torch.manual_seed(0)
    _, out_mask, box = random_crop(image, mask, 32, 255)
    assert box.tolist() == [0, 32, 0, 32] and not torch.any(out_mask == 255)


def test_train_transform_keeps_image_and_mask_aligned_under_flip() -> None:
    image, mask = _pair(24, 30)
    transform = TrainTransform(32, [1.0, 1.0])
    flipped = 0
    for seed in range(8):
        torch.manual_seed(seed)
        out_image, out_mask, box = transform(image, mask)
        y0, y1, x0, x1 = box.tolist()
        pixels = (out_image * 255).round()[:, y0:y1, x0:x1]
        assert torch.equal(pixels[0], (out_mask[y0:y1, x0:x1] * 10).float())
        flipped += int(pixels[2, 0, 0] > pixels[2, 0, -1])
    assert 0 < flipped < 8


def test_train_transform_rescales_and_is_seeded_by_torch() -> None:
    image, mask = _pair(16, 20)
    transform = TrainTransform(64, [2.0, 2.0])
    torch.manual_seed(1)
    first = transform(image, mask)
    torch.manual_seed(1)
    second = transform(image, mask)
    box = first[2].tolist()
    assert (box[1] - box[0], box[3] - box[2]) == (32, 40)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    assert first[0].dtype == torch.float32 and first[1].dtype == torch.int64


def test_eval_transform_gives_the_image_in_unit_range_only() -> None:
    image, mask = _pair(10, 12)
    out_image, out_mask, box = EvalTransform()(image, mask)
    assert box.tolist() == [0, 10, 0, 12] and torch.equal(out_mask, mask)
    assert torch.equal(out_image, image.float() / 255)


def test_pad_collate_pads_to_largest() -> None:
    items = []
    for height, width in ((10, 12), (14, 9)):
        image, mask = _pair(height, width)
        out_image, out_mask, box = EvalTransform()(image, mask)
        items.append({"image": out_image, "mask": out_mask, "labels": torch.zeros(3), "crop_box": box,
                      "name": f"{height}", "size": torch.tensor([height, width])})
    batch = pad_collate(items)
    assert batch["image"].shape == (2, 3, 14, 12) and batch["mask"].shape == (2, 14, 12)
    assert torch.all(batch["image"][0, :, 10:] == 0) and torch.all(batch["mask"][0, 10:] == 255)
    assert torch.all(batch["mask"][1, :, 9:] == 255)
    assert batch["size"].tolist() == [[10, 12], [14, 9]] and batch["name"] == ["10", "14"]
    assert batch["crop_box"].tolist() == [[0, 10, 0, 12], [0, 14, 0, 9]]


def test_seeded_loader_is_deterministic(synthetic_data_cfg: DataConfig) -> None:
    synthetic_data_cfg.crop_size = 64
    dataset = build_dataset(synthetic_data_cfg, "train", train=True)

    def first_batch(workers: int) -> dict:
        torch.manual_seed(0)
        loader = DataLoader(dataset, batch_size=4, shuffle=True, num_workers=workers,
                            generator=torch.Generator().manual_seed(5), collate_fn=pad_collate)
        return next(iter(loader))

    for workers in (0, 2):
        a, b = first_batch(workers), first_batch(workers)
        assert a["name"] == b["name"]
        assert torch.equal(a["image"], b["image"]) and torch.equal(a["crop_box"], b["crop_box"])
    assert a["image"].shape == (4, 3, 64, 64)
