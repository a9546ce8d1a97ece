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
from seco.method.losses import lig_loss, lil_loss_public, ptc_loss
from seco.method.losses.seg import balanced_seg_loss
from seco.method.prototypes import Prototypes
from seco.method.pseudo_labels import token_label_map
from seco.method.rectification import rectify_tags
from seco.method.reservoir import Reservoir
from seco.method.tags import global_tags, patch_tags_public, present_classes


def _unit(*shape: int, seed: int) -> torch.Tensor:
    return F.normalize(torch.randn(*shape, generator=torch.Generator().manual_seed(seed)), dim=-1)


def _lil_case(seed: int, clustered: bool):
    """q, k (unit, as the projection head gives them), tags, and a full queue (tags, pointer) before the push."""
    gen = torch.Generator().manual_seed(seed)
    q = _unit(24, 8, seed=seed).requires_grad_()
    k = F.normalize(q.detach() + 0.3 * torch.randn(24, 8, generator=gen), dim=1)  # most like their own query
    tags = torch.randint(-1, 4, (24,), generator=gen)
    queue = F.normalize(torch.randn(48, 8, generator=gen), dim=0)  # the public start, then pushed keys
    queue[:24] = _unit(24, 8, seed=seed + 1)
    queue_tags = torch.randint(-1, 4, (48,), generator=gen)
    if clustered:  # nearly all keys tag 1 and unlike query 0, key 23 is query 0 with tag 2: the public rule fires
        tags[:23], tags[23] = 1, 2
        far = F.normalize(-q.detach()[:1] + 0.01 * torch.randn(71, 8, generator=gen), dim=1)
        k[:23], queue[:] = far[:23], far[23:]
        k[23] = q.detach()[0]
        queue_tags[:] = 1
    return q, k, tags, queue, queue_tags, 24 * (seed % 2)


def _our_lil_keys(k, tags, queue, queue_tags, ptr):
    """Our key set for the public LiL: this step's keys and the reservoir after their push, built by the
    reservoir itself from the same queue."""
    pool = Reservoir(queue.shape[0], queue.shape[1], init="public")
    pool.load_state_dict({"keys": queue, "tags": queue_tags, "ptr": torch.tensor(ptr),
                          "filled": torch.tensor(queue.shape[0])})
    pool_keys, pool_tags = pool.snapshot_public(k, tags)
    return torch.cat([k, pool_keys]), torch.cat([tags, pool_tags])


def test_lil_and_its_rectification_match_the_public_code():
    for seed, clustered in ((0, False), (1, False), (2, True)):
        q, k, tags, queue, queue_tags, ptr = _lil_case(seed, clustered)
        expected, expected_tags = public.lil_and_rectification(q, k, tags, queue, queue_tags, ptr, tau=0.08)
        keys, key_tags = _our_lil_keys(k, tags, queue, queue_tags, ptr)
        own_max = (q.detach() @ k.T).argmax(dim=1) == torch.arange(24)
        assert own_max.any()  # queries whose own key's two copies leave the denominator
        new_tags, fired = rectify_tags(q.detach(), tags, keys, key_tags, sigma=10.0, rule="public", tau=0.08)
        loss = lil_loss_public(q, tags, keys, key_tags, 0.08, fired)
        assert torch.equal(new_tags, expected_tags)
        if clustered:
            assert bool(fired[0]) and int(new_tags[0]) == 0
        torch.testing.assert_close(loss, expected, rtol=1e-6, atol=1e-7)
        grad, = torch.autograd.grad(loss, q)
        expected_grad, = torch.autograd.grad(expected, q)
        torch.testing.assert_close(grad, expected_grad, rtol=1e-5, atol=1e-8)


def test_the_issue_25_reproduction_gives_the_public_lil():
    """Issue 25: the reservoir re-normalised pushed keys, moving the copy of a query's own key by an ulp, so it
    stayed in the public LiL's denominator (0.85794). The authors' LIL_Loss on these tensors (their queue
    holding k as it is) gives 0.82393."""
    g = torch.Generator().manual_seed(3)
    q = F.normalize(torch.randn(4, 8, generator=g), dim=1)
    k = F.normalize(q + 0.3 * torch.randn(4, 8, generator=g), dim=1)
    tags = torch.tensor([1, 1, 2, 0])
    pool = Reservoir(capacity=8, dim=8)
    pool.push(torch.randn(4, 8, generator=g), torch.tensor([1, 2, 0, 0]))
    assert not torch.equal(F.normalize(k, dim=1), k)  # normalising again would move the copy
    pool_keys, pool_tags = pool.snapshot_public(k, tags)
    assert torch.equal(pool_keys[4:], k)
    keys, key_tags = torch.cat([k, pool_keys]), torch.cat([tags, pool_tags])
    _, fired = rectify_tags(q, tags, keys, key_tags, sigma=10.0, rule="public", tau=0.08)
    loss = lil_loss_public(q, tags, keys, key_tags, 0.08, fired)
    assert abs(loss.item() - 0.82393) < 5e-6
    queue = torch.cat([pool_keys[:4], torch.zeros(4, 8)])
    expected, _ = public.lil_and_rectification(q, k, tags, queue, pool_tags, 4, tau=0.08)
    torch.testing.assert_close(loss, expected, rtol=1e-6, atol=1e-7)


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
    assert torch.equal(patch_tags_public(mask, present, centres, 8, 0.2), expected_patch)


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
