import math

import torch

from seco.method.losses import ptc_loss
from seco.method.pseudo_labels import labels_to_token_grid, token_label_map


def _grid(vectors: list[list[float]]) -> torch.Tensor:
    """(1, D, 2, 2) tokens in row-major order."""
    return torch.tensor(vectors).T.reshape(1, -1, 2, 2)


def test_two_by_two_grid_by_hand():
    s = 1 / math.sqrt(2)
    labels = torch.tensor([[[0, 0], [1, 255]]])
    expected = 0.5 * (1 - 0.6) + 0.5 * (s + 1.4 * s) / 2
    for third in ([s, s], [-s, -s]):  # |cos|: the sign of a token does not matter
        tokens = _grid([[2.0, 0.0], [0.6, 0.8], third, [5.0, -1.0]]).requires_grad_()
        loss = ptc_loss(tokens, labels)
        assert math.isclose(loss.item(), expected, rel_tol=1e-6)
        loss.backward()
        assert torch.equal(tokens.grad[..., 1, 1], torch.zeros(1, 2))  # ignored token


def test_empty_masks_give_zero_with_grad():
    tokens = _grid([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [1.0, 1.0]]).requires_grad_()
    loss = ptc_loss(tokens, torch.full((1, 2, 2), 255))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(tokens.grad, torch.zeros_like(tokens))
    one_label = ptc_loss(tokens, torch.tensor([[[3, 3], [255, 255]]]))
    assert math.isclose(one_label.item(), 0.5 * (1 - 0.6), rel_tol=1e-6)  # no negative pair


def test_labels_to_token_grid_majority_vote():
    label_map = torch.tensor(
        [
            [
                [1, 1, 0, 255],
                [1, 0, 255, 255],
                [2, 2, 0, 255],
                [2, 255, 255, 255],
            ]
        ]
    )
    grid = labels_to_token_grid(label_map, (2, 2))
    assert grid.tolist() == [[[1, 255], [2, 255]]]
    tie = labels_to_token_grid(torch.tensor([[[2, 1]]]), (1, 1))
    assert tie.tolist() == [[[1]]]
    assert torch.equal(labels_to_token_grid(label_map, (4, 4)), label_map)


def test_token_label_map_crop_box_in_token_units_or_raw_pixels():
    """A 16x16 CAM on a 4x4 token grid (4 px tokens); crop box rows 0-16, columns 8-16 in pixels."""
    cam = torch.ones(1, 1, 16, 16)
    box = torch.tensor([[0, 16, 8, 16]])
    tokens = token_label_map(cam, (4, 4), box, 0.7, 0.25, crop_box_units="tokens")
    assert tokens[0].tolist() == [[255, 255, 1, 1]] * 4  # columns 2-3 hold the content
    pixels = token_label_map(cam, (4, 4), box, 0.7, 0.25, crop_box_units="pixels")
    assert pixels.eq(255).all()  # the public code: column 8 is past the 4-token grid, nothing is labelled


def test_plus_one_counts_add_half_when_no_pair_is_positive():
    tokens = torch.randn(1, 4, 2, 2)
    labels = torch.tensor([[[0, 1], [2, 3]]])  # all pairs negative
    exact = ptc_loss(tokens, labels, counts="exact")
    plus_one = ptc_loss(tokens, labels, counts="plus_one")
    flat = torch.nn.functional.normalize(tokens.flatten(2), dim=1)
    cos = (flat.transpose(1, 2) @ flat).abs()[0]
    off_diagonal = cos.sum() - cos.diagonal().sum()
    torch.testing.assert_close(exact, 0.5 * off_diagonal / 12)
    torch.testing.assert_close(plus_one, 0.5 * (1 - 0) + 0.5 * off_diagonal / 13)
