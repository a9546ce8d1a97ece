import math

import torch

from seco.method.losses import classification_loss


def _log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


def test_multilabel_soft_margin_by_hand():
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.0]], requires_grad=True)
    labels = torch.tensor([[1, 0], [0, 1]])
    loss = classification_loss(logits, labels)
    per_image = [
        -(_log_sigmoid(2.0) + _log_sigmoid(1.0)) / 2,
        -(_log_sigmoid(-0.5) + _log_sigmoid(0.0)) / 2,
    ]
    assert math.isclose(loss.item(), sum(per_image) / 2, rel_tol=1e-6)
    loss.backward()
    assert logits.grad is not None
