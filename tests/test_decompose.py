"""Image decomposition switches: weak and strong patch views, global views, tag layout, centres."""

from __future__ import annotations

import pytest
import torch

from seco.config import MethodConfig
from seco.method import decompose as decompose_module
from seco.method.decompose import decompose


def _cfg(**decomposition) -> MethodConfig:
    cfg = MethodConfig()
    cfg.decomposition.patch_size, cfg.decomposition.num_patches, cfg.decomposition.border_margin = 4, 3, 2
    cfg.decomposition.global_size = 8
    for key, value in decomposition.items():
        setattr(cfg.decomposition, key, value)
    return cfg


def _inputs(batch: int = 2, size: int = 12):
    images = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    cam = torch.full((batch, 2, size, size), 0.5)  # uncertain everywhere
    cam[0, 0, :6] = 0.9  # image 0: class 1 confident in its top half
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0]])[:batch]
    box = torch.tensor([[0, size, 0, size]] * batch)
    return images, cam, labels, box


def _mirror_strong(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make Aug_k a plain left-right flip so where a k patch comes from can be read off."""
    monkeypatch.setattr(decompose_module, "strong_augment", lambda x, generator: x.flip(-1))


@pytest.mark.parametrize("k_view", ["whole_crop", "per_patch"])
def test_k_patches_come_from_the_mirrored_place_only_when_the_whole_crop_is_augmented(monkeypatch, k_view):
    """With Aug_k a plain flip: per patch, k is q mirrored; cut from the mirrored crop at the same
    coordinates (the public code), k is the mirror of the patch at the mirrored centre x -> W - 1 - x."""
    _mirror_strong(monkeypatch)
    images, cam, labels, box = _inputs()
    gen = torch.Generator().manual_seed(1)
    views = decompose(images, cam, labels, box, _cfg(k_view=k_view, q_flip=False), gen)
    if k_view == "per_patch":
        assert torch.equal(views.k_patches, views.q_patches.flip(-1))
        return
    for i, (q, k) in enumerate(zip(views.q_patches, views.k_patches)):
        image = images[i // 3]
        (y, x), = [(y, x) for y in range(2, 10) for x in range(2, 10)
                   if torch.equal(image[:, y - 2 : y + 2, x - 2 : x + 2], q)]
        mirrored_x = 12 - 1 - x
        assert torch.equal(k, image[:, y - 2 : y + 2, mirrored_x - 1 : mirrored_x + 3].flip(-1))


def test_q_patches_are_plain_crops_or_flipped_ones():
    images, cam, labels, box = _inputs()
    plain = decompose(images, cam, labels, box, _cfg(q_flip=False), torch.Generator().manual_seed(2))
    flipped = decompose(images, cam, labels, box, _cfg(q_flip=True), torch.Generator().manual_seed(2))
    same = [torch.equal(a, b) for a, b in zip(plain.q_patches, flipped.q_patches)]
    mirrored = [torch.equal(a.flip(-1), b) for a, b in zip(plain.q_patches, flipped.q_patches)]
    assert all(s or m for s, m in zip(same, mirrored)) and any(m and not s for s, m in zip(same, mirrored))


def test_global_views_and_the_tag_layout():
    images, cam, labels, box = _inputs()
    by_crop = decompose(images, cam, labels, box, _cfg(global_views="crop_and_rrc"), torch.Generator().manual_seed(3))
    assert by_crop.global_q is None and by_crop.global_k is None
    copies = decompose(images, cam, labels, box, _cfg(global_views="resized_copies", num_global=2),
                       torch.Generator().manual_seed(3))
    assert copies.global_q.shape == copies.global_k.shape == (4, 3, 8, 8)
    # global tags (view-major: both images' first view, then their second) then 2 x 3 patch tags
    assert copies.tags.shape == (4 + 6,)
    assert copies.tags[:4].tolist() == [1, -1, 1, -1]  # image 0: class 1 confident; image 1: none (paper rule)
    public = decompose(images, cam, labels, box, _cfg(global_tags="public"), torch.Generator().manual_seed(3))
    assert public.tags[:4].tolist() == [1, 1, 1, 1]  # the public default flag for image 1


def test_content_centres_avoid_the_padding():
    images, cam, labels, _ = _inputs(batch=1)
    images[..., 5:] = 0.0  # black padding right of column 4
    box = torch.tensor([[0, 12, 0, 5]])
    cam[:] = 0.1  # no uncertain pixel: the centres fall back to the content, never the padding
    for seed in range(5):
        views = decompose(images, cam, labels, box, _cfg(centres="content", q_flip=False),
                          torch.Generator().manual_seed(seed))
        assert all(q[:, :, 2].abs().sum() > 0 for q in views.q_patches)  # column 2 of a patch is its centre
    public = [decompose(images, cam, labels, box, _cfg(centres="public", q_flip=False),
                        torch.Generator().manual_seed(seed)).q_patches for seed in range(5)]
    assert any(q[:, :, 2].abs().sum() == 0 for patches in public for q in patches)  # centred in the padding


def test_class_tag_thr_drops_the_class_tags_of_patches_the_cam_is_not_sure_enough_of():
    images, cam, labels, box = _inputs()
    cam[0, 0, :6] = 0.75  # class 1 above cam.high_thr (0.7), below class_tag_thr 0.8
    for seed in range(5):
        plain = decompose(images, cam, labels, box, _cfg(), torch.Generator().manual_seed(seed))
        strict = decompose(images, cam, labels, box, _cfg(class_tag_thr=0.8), torch.Generator().manual_seed(seed))
        patches = slice(4, None)  # 2 x 2 global-view tags first
        assert torch.equal(strict.tags[:4], plain.tags[:4])  # global views keep their tags
        kept = plain.tags[patches] <= 0
        assert torch.equal(strict.tags[patches][kept], plain.tags[patches][kept])
        assert (strict.tags[patches][~kept] == -1).all()
    assert (plain.tags[patches] == 1).any()  # the last draw had class-tagged patches to drop
    cam[0, 0, :6] = 0.9  # sure enough: nothing changes
    plain = decompose(images, cam, labels, box, _cfg(), torch.Generator().manual_seed(4))
    strict = decompose(images, cam, labels, box, _cfg(class_tag_thr=0.8), torch.Generator().manual_seed(4))
    assert (plain.tags[patches] == 1).any() and torch.equal(strict.tags, plain.tags)
