"""The tile loss of `seco pretrain`: per-tile GMP logits and set cross-entropy, checked by hand."""

from __future__ import annotations

import math

import pytest
import torch

from seco.model.heads import ClassifierHead
from seco.pretrain.train import class_token_loss, set_cross_entropy, tile_cross_entropy


def _identity_head(classes: int) -> ClassifierHead:
    """A head whose logits are the pooled token features themselves (W = I)."""
    head = ClassifierHead(classes, classes)
    with torch.no_grad():
        head.conv.weight.copy_(torch.eye(classes)[:, :, None, None])
    return head


def test_each_tile_is_scored_by_its_own_tokens_only() -> None:
    head = _identity_head(2)
    tokens = torch.zeros(1, 2, 4, 4)
    tokens[0, 0, 0, 0] = 2.0   # class 0 evidence in the top-left tile
    tokens[0, 1, 3, 3] = 1.0   # class 1 evidence in the bottom-right tile
    logits = head.region_logits(tokens, 2)
    assert logits.shape == (1, 2, 2, 2)
    assert logits[0, :, 0, 0].tolist() == [2.0, 0.0] and logits[0, :, 1, 1].tolist() == [0.0, 1.0]
    assert logits[0, :, 0, 1].tolist() == [0.0, 0.0] and logits[0, :, 1, 0].tolist() == [0.0, 0.0]
    assert torch.equal(head(tokens), torch.tensor([[2.0, 1.0]]))


def test_tile_loss_is_the_mean_set_cross_entropy_of_the_tiles() -> None:
    head = _identity_head(2)
    tokens = torch.zeros(1, 2, 4, 4)
    tokens[0, 0, 0, 0] = 2.0
    tiles = torch.tensor([[[1.0, 0.0], [0.0, 0.0], [1.0, 1.0], [0.0, 1.0]]])
    # Tile by tile (logits [2, 0], [0, 0], [0, 0], [0, 0]); an empty tile adds 0 but counts in the mean.
    by_hand = (math.log(1 + math.exp(-2.0)) + 0.0 + math.log(2.0) + math.log(2.0)) / 4
    assert tile_cross_entropy(head, tokens, tiles).item() == pytest.approx(by_hand, rel=1e-6)


def test_one_tile_is_the_image_level_loss() -> None:
    torch.manual_seed(0)
    head, tokens = ClassifierHead(8, 5), torch.randn(3, 8, 6, 6)
    labels = torch.tensor([[1.0, 0, 0, 1, 0], [0, 1, 0, 0, 0], [0, 0, 1, 1, 1]])
    assert torch.allclose(tile_cross_entropy(head, tokens, labels[:, None]), set_cross_entropy(head(tokens), labels))


def test_a_class_map_spilling_into_another_tile_costs_loss_that_the_image_loss_does_not_see() -> None:
    head = _identity_head(2)
    tight, spill = torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 4)
    tight[0, 0, 0, 0] = spill[0, 0, 0, 0] = 3.0
    tight[0, 1, 3, 3] = spill[0, 1, 3, 3] = 3.0
    spill[0, 0, 3, 2] = 3.0  # class 0 also lights up in the bottom-right tile, which holds class 1 only
    tiles = torch.tensor([[[1.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 1.0]]])
    image = tiles.amax(1)
    assert set_cross_entropy(head(spill), image) == set_cross_entropy(head(tight), image)
    assert tile_cross_entropy(head, spill, tiles) > tile_cross_entropy(head, tight, tiles) + 0.1


def test_a_grid_that_does_not_divide_the_token_map_is_refused() -> None:
    with pytest.raises(ValueError, match="3x3 equal blocks"):
        ClassifierHead(4, 2).region_logits(torch.zeros(1, 4, 4, 4), 3)


def test_class_token_loss_is_the_set_cross_entropy_of_the_whole_image() -> None:
    head = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        head.weight.copy_(torch.eye(2))
    cls = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    # Image 0 is a mosaic with class 0 in one tile and class 1 in another: its set is {0, 1}.
    # Image 1 holds class 1 only, in its last tile.
    tiles = torch.tensor([[[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0]],
                          [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 1.0]]])
    p0 = 1 / (1 + math.exp(-2.0))  # softmax of [2, 0]
    by_hand = (-(0.5 * math.log(p0) + 0.5 * math.log(1 - p0)) + math.log(2.0)) / 2
    assert class_token_loss(head, cls, tiles).item() == pytest.approx(by_hand, rel=1e-6)
