import math

import torch

from seco.method.losses import rectify_tags

Q = torch.tensor([[1.0, 0.0]])


def _keys(sims: list[float]) -> torch.Tensor:
    """Unit keys whose inner product with Q is each of ``sims``."""
    return torch.tensor([[s, math.sqrt(1 - s * s)] for s in sims])


def test_fires_when_most_positives_are_below_their_mean():
    # positives 1.0, 0.2, 0.1, 0.0: mu = 0.325, three of four below -> 0.75 > 0.5
    keys = _keys([1.0, 0.2, 0.1, 0.0, 0.9])
    key_tags = torch.tensor([1, 1, 1, 1, 2])
    tags, fired = rectify_tags(Q, torch.tensor([1]), keys, key_tags, sigma=0.5)
    assert fired.tolist() == [True] and tags.tolist() == [-1]


def test_does_not_fire_when_positives_agree():
    # positives 1.0, 0.9, 0.8, 0.0: mu = 0.675, one of four below -> 0.25
    keys = _keys([1.0, 0.9, 0.8, 0.0])
    tags, fired = rectify_tags(Q, torch.tensor([0]), keys, torch.tensor([0, 0, 0, 0]), sigma=0.5)
    assert fired.tolist() == [False] and tags.tolist() == [0]


def test_all_keys_mean_fires_less_often_on_the_same_data():
    keys = _keys([1.0, 0.2, 0.1, 0.0, 0.0, 0.0, 0.0, 0.0])
    key_tags = torch.tensor([1, 1, 1, 1, 2, 2, 0, 0])
    _, paper = rectify_tags(Q, torch.tensor([1]), keys, key_tags, sigma=0.4, mean_over="positives")
    # all_keys: mu = 1.3 / 8 = 0.1625, two of four below -> 0.5, not > 0.5
    _, public = rectify_tags(Q, torch.tensor([1]), keys, key_tags, sigma=0.5, mean_over="all_keys")
    _, paper_same_sigma = rectify_tags(Q, torch.tensor([1]), keys, key_tags, sigma=0.5)
    assert paper.tolist() == [True] and paper_same_sigma.tolist() == [True]
    assert public.tolist() == [False]


def test_uncertain_rows_and_rows_without_positives_are_untouched():
    q = Q.expand(3, 2)
    keys = _keys([1.0, 0.2, 0.1, 0.0])
    key_tags = torch.tensor([-1, -1, -1, 1])
    tags, fired = rectify_tags(q, torch.tensor([-1, 2, 1]), keys, key_tags, sigma=0.0)
    assert tags.tolist() == [-1, 2, 1] and not fired.any()
