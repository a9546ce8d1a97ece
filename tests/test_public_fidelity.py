"""``fidelity: public`` reproduces the public training step component by component on identical tensors.

Each vectorised implementation is compared with a loop-by-loop restatement of
the public code (tests/public_reference.py); ``fidelity: paper`` must differ
where the two presets differ.
"""

from __future__ import annotations

import public_reference as public
import torch
import torch.nn.functional as F

from seco.config import Config, apply_overrides
from seco.method.cam import multiscale_cams
from seco.method.losses import lig_loss, lil_loss_public, ptc_loss, rectify_tags
from seco.method.losses.seg import balanced_seg_loss
from seco.method.prototypes import Prototypes
from seco.method.pseudo_labels import token_label_map
from seco.method.tags import global_tags, present_classes, public_patch_tags


def _unit(*shape: int, seed: int) -> torch.Tensor:
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


def _lil_case(seed: int, clustered: bool):
    gen = torch.Generator().manual_seed(seed)
    q = _unit(24, 8, seed=seed).requires_grad_()
    keys = _unit(60, 8, seed=seed + 1)
    tags = torch.randint(-1, 4, (24,), generator=gen)
    key_tags = torch.randint(-1, 4, (60,), generator=gen)
    if clustered:  # rows of tag 1 with nearly all keys tag 1 and unlike the query: the public rule fires
        key_tags[:58] = 1
        keys[:58] = F.normalize(-q.detach()[:1] + 0.01 * torch.randn(58, 8, generator=gen), dim=1)
        keys[58] = q.detach()[0]
        key_tags[58] = 2
        tags[0] = 1
    return q, keys, tags, key_tags


def test_lil_and_its_rectification_match_the_public_code():
    for seed, clustered in ((0, False), (1, False), (2, True)):
        q, keys, tags, key_tags = _lil_case(seed, clustered)
        expected, expected_tags = public.lil_and_rectification(q, keys, tags, key_tags, tau=0.08)
        new_tags, fired = rectify_tags(q.detach(), tags, keys, key_tags, sigma=10.0, rule="public", tau=0.08)
        loss = lil_loss_public(q, tags, keys, key_tags, 0.08, fired)
        assert torch.equal(new_tags, expected_tags)
        if clustered:
            assert bool(fired[0]) and int(new_tags[0]) == 0
        torch.testing.assert_close(loss, expected, rtol=1e-6, atol=1e-7)
        grad, = torch.autograd.grad(loss, q)
        expected_grad, = torch.autograd.grad(expected, q)
        torch.testing.assert_close(grad, expected_grad, rtol=1e-5, atol=1e-8)


def test_lig_matches_the_public_code():
    prototypes = _unit(5, 8, seed=3)
    for seed in (4, 5):
        q = _unit(20, 8, seed=seed).requires_grad_()
        tags = torch.randint(-1, 6, (20,), generator=torch.Generator().manual_seed(seed))
        in_tags = F.one_hot(tags.clamp(min=0), 6)[:, 1:].any(dim=0)
        loss = lig_loss(q, tags, prototypes, in_tags, 0.1)
        torch.testing.assert_close(loss, public.lig(q, prototypes, tags, 0.1), rtol=1e-6, atol=1e-7)


def test_multiscale_cams_match_the_public_code():
    weight = torch.randn(3, 3, 1, 1, generator=torch.Generator().manual_seed(6))

    def raw(images):
        return F.conv2d(F.avg_pool2d(images, 4), weight)

    images = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(7))
    labels = torch.ones(2, 3)
    cam, _ = multiscale_cams(lambda x: (raw(x), raw(x)), images, labels, [1.0, 0.5, 0.75, 1.5], True, None,
                             "max", True)
    torch.testing.assert_close(cam, public.multiscale_cam(raw, images, [1.0, 0.5, 0.75, 1.5]), rtol=1e-5, atol=1e-6)


def test_patch_and_global_tags_match_the_public_code():
    gen = torch.Generator().manual_seed(8)
    mask = torch.randint(-1, 4, (3, 24, 24), generator=gen)
    mask[0] = torch.where(mask[0] > 1, 0, mask[0])  # image 0: one class (1) at most
    mask[1] = torch.where(mask[1] > 0, 0, mask[1])  # image 1: no class at all
    mask[:, :, 20:] = 255  # the crop's padding
    centres = torch.stack([torch.randint(4, 20, (3, 6), generator=gen), torch.randint(4, 20, (3, 6), generator=gen)],
                          dim=-1)
    expected_global, expected_patch = public.tags_and_crops(mask, centres, 8, 0.2)
    present = present_classes(mask, 3)
    assert torch.equal(global_tags(present, "public"), expected_global)
    assert torch.equal(public_patch_tags(mask, present, centres, 8, 0.2), expected_patch)


def test_ptc_matches_the_public_code_including_its_crop_box_on_the_token_grid():
    gen = torch.Generator().manual_seed(9)
    tokens = torch.randn(2, 6, 7, 7, generator=gen)
    cam_aux = torch.rand(2, 3, 56, 56, generator=gen)
    crop_box = torch.tensor([[0, 56, 0, 56], [3, 40, 5, 56]])  # image 1: pixel offsets 3 and 5 on the 7x7 grid
    labels = token_label_map(cam_aux, (7, 7), crop_box, 0.7, 0.25, crop_box_units="pixels")
    loss = ptc_loss(tokens, labels, counts="plus_one")
    torch.testing.assert_close(loss, public.ptc(tokens, cam_aux, crop_box, 0.7, 0.25), rtol=1e-6, atol=1e-7)
    assert labels[1, :3].eq(255).all() and labels[1, :, :5].eq(255).all()


def test_seg_loss_matches_the_public_code():
    gen = torch.Generator().manual_seed(10)
    logits = torch.randn(2, 4, 5, 5, generator=gen)
    for target in (torch.randint(0, 4, (2, 5, 5), generator=gen), torch.zeros(2, 5, 5, dtype=torch.long)):
        ce = F.cross_entropy(logits, target, ignore_index=255, reduction="none")
        background, foreground = target == 0, (target > 0) & (target != 255)
        expected = 0.5 * ((ce * background).sum() / (background.sum() + 1e-6)
                          + (ce * foreground).sum() / (foreground.sum() + 1e-6))
        torch.testing.assert_close(balanced_seg_loss(logits, target, empty_kind="halve"), expected)


def test_prototype_update_matches_the_public_code():
    protos = Prototypes(3, 4, "public")
    start = protos.P.clone()
    gen = torch.Generator().manual_seed(11)
    z = torch.randn(5, 4, generator=gen) * 20
    labels = torch.tensor([[1, 0, 0], [0, 0, 1], [1, 1, 0], [1, 0, 0], [0, 0, 0]])
    protos.update(z, labels, momentum=0.9)
    expected = start.clone()
    for feat, row in zip(z, labels):
        if int(row.sum()) == 1:  # label_idx != -1
            c = int(row.argmax())
            expected[c] = expected[c] * 0.9 + 0.1 * feat
    torch.testing.assert_close(protos.P, F.normalize(expected, dim=1))


def test_public_and_paper_presets_differ_exactly_where_the_table_says(tiny_cfg: Config):
    public_cfg = apply_overrides(tiny_cfg, ["method.fidelity=public"])
    paper_cfg = apply_overrides(tiny_cfg, ["method.fidelity=paper"])
    m_pub, m_pap = public_cfg.method, paper_cfg.method
    assert (m_pub.rectification.rule, m_pub.rectification.sigma) == ("public", 10.0)
    assert (m_pap.rectification.rule, m_pap.rectification.sigma) == ("paper", 0.5)
    assert (m_pub.losses.lil.formula, m_pap.losses.lil.formula) == ("public", "paper")
    assert m_pub.decomposition.patch_tags == "public" and m_pap.decomposition.patch_tags == "paper"
