import math

import torch

from seco.method.losses import lig_classes, lig_loss

PROTOTYPES = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])


def test_two_patches_three_prototypes_by_hand():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [0.8, 0.6]], requires_grad=True)
    tags = torch.tensor([1, 2, 0, -1])  # the last two rows are excluded
    present = torch.tensor([True, False, True])  # class 2 absent, but q_2's own positive
    loss = lig_loss(q, tags, PROTOTYPES, present, tau_g=0.5)
    # q_1 (class 1): logits over P_1 (own) and P_3 are 1/0.5 and -1/0.5.
    first = -math.log(math.exp(2) / (math.exp(2) + math.exp(-2)))
    # q_2 (class 2): logits over P_1, P_2 (own), P_3 are 0, 2, 0.
    second = -math.log(math.exp(2) / (1 + math.exp(2) + 1))
    assert math.isclose(loss.item(), (first + second) / 2, rel_tol=1e-6)
    loss.backward()
    assert torch.equal(q.grad[2:], torch.zeros(2, 2))


def test_no_foreground_patch_gives_zero_with_grad():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    loss = lig_loss(q, torch.tensor([0, -1]), PROTOTYPES, torch.ones(3, dtype=torch.bool), tau_g=0.1)
    assert loss.item() == 0.0 and torch.isfinite(loss)
    loss.backward()
    assert torch.equal(q.grad, torch.zeros(2, 2))


def test_lig_classes_from_tags_or_labels():
    tags = torch.tensor([2, -1, 0, 2, 4])
    labels = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    ready = torch.tensor([True, True, True, False])
    assert lig_classes(tags, labels, ready, "tags").tolist() == [False, True, False, False]  # 4 is not ready
    assert lig_classes(tags, labels, ready, "labels").tolist() == [True, True, True, False]
