import math

import torch

from seco.method.rectification import rectify_tags

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


def _public_case(others: int) -> tuple[torch.Tensor, torch.Tensor]:
    """11 positives (tag 1) at similarity 0, then ``others`` keys of tag 2, the first at similarity 1 (the
    row's max), the rest at 0.5."""
    keys = _keys([0.0] * 11 + [1.0] + [0.5] * (others - 1))
    key_tags = torch.tensor([1] * 11 + [2] * others)
    return keys, key_tags


def test_public_rule_fires_only_when_more_than_91_percent_of_all_keys_are_low_positives():
    """Shifted logits (tau 1): the 11 positives are -1, every other entry is 0 (not a positive). With one
    other key the mean over all 12 entries is -11/12: 11 lie below it, 1 at or above, 11 > 10: it fires and
    the tag becomes 0 (background). With two other keys (positives 11/13 = 85 % of the keys): 11 below,
    2 above, 5.5 < 10: no fire. The paper rule fires in neither case: the 11 equal positives sit at
    their own mean."""
    keys, key_tags = _public_case(others=1)
    tags, fired = rectify_tags(Q, torch.tensor([1]), keys, key_tags, sigma=10.0, rule="public", tau=1.0)
    assert fired.tolist() == [True] and tags.tolist() == [0]
    keys, key_tags = _public_case(others=2)
    _, fired = rectify_tags(Q, torch.tensor([1]), keys, key_tags, sigma=10.0, rule="public", tau=1.0)
    assert fired.tolist() == [False]
    for others in (1, 2):
        keys, key_tags = _public_case(others)
        _, paper = rectify_tags(Q, torch.tensor([1]), keys, key_tags, sigma=0.5, rule="paper")
        assert paper.tolist() == [False]


def test_public_rule_leaves_the_paper_example_alone():
    # the case where the paper rule fires (3 of 4 positives below their mean): 3 below vs 2 at or above
    keys = _keys([1.0, 0.2, 0.1, 0.0, 0.9])
    key_tags = torch.tensor([1, 1, 1, 1, 2])
    _, fired = rectify_tags(Q, torch.tensor([1]), keys, key_tags, sigma=10.0, rule="public", tau=0.08)
    assert fired.tolist() == [False]


def test_uncertain_rows_and_rows_without_positives_are_untouched():
    q = Q.expand(3, 2)
    keys = _keys([1.0, 0.2, 0.1, 0.0])
    key_tags = torch.tensor([-1, -1, -1, 1])
    for rule, sigma in (("paper", 0.0), ("public", 10.0)):
        tags, fired = rectify_tags(q, torch.tensor([-1, 2, 1]), keys, key_tags, sigma=sigma, rule=rule)
        assert tags.tolist() == [-1, 2, 1] and not fired.any()
