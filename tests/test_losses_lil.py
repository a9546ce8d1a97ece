import math

import torch
import torch.nn.functional as F

from seco.method.contrast import lil_floor
from seco.method.losses import lil_loss, lil_loss_public
from seco.method.reservoir import Reservoir

KEYS = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
KEY_TAGS = torch.tensor([1, 1, 2])


def test_two_queries_three_keys_by_hand():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [0.8, 0.6]], requires_grad=True)
    tags = torch.tensor([1, 2, -1, 3])  # rectified row and a row with no positive key
    loss = lil_loss(q, tags, KEYS, KEY_TAGS, tau_l=0.5)
    # q_1: logits 2, 0, 0 ; positives k_1 and k_2
    z1 = math.exp(2) + 2
    # q_2: logits 0, 2, 2 ; positive k_3
    z2 = 1 + 2 * math.exp(2)
    log_probs = [2 - math.log(z1), 0 - math.log(z1), 2 - math.log(z2)]
    assert math.isclose(loss.item(), -sum(log_probs) / 3, rel_tol=1e-6)
    loss.backward()
    assert torch.equal(q.grad[2:], torch.zeros(2, 2))


def test_log_prob_is_masked_to_positives():
    q = torch.tensor([[1.0, 0.0]])
    masked = lil_loss(q, torch.tensor([2]), KEYS, KEY_TAGS, tau_l=0.5)
    z = math.exp(2) + 2
    assert math.isclose(masked.item(), -(0 - math.log(z)), rel_tol=1e-6)  # k_3 only, not all three keys


def test_no_positive_pair_gives_zero_with_grad():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    loss = lil_loss(q, torch.tensor([-1, 5]), KEYS, KEY_TAGS, tau_l=0.08)
    assert loss.item() == 0.0 and torch.isfinite(loss)
    loss.backward()
    assert torch.equal(q.grad, torch.zeros(2, 2))


def test_uncertain_keys_are_in_no_denominator():
    """The paper excludes uncertain patches from the contrast: a key tagged -1 is neither a positive nor a
    negative. q_1 = e_1 against keys e_1 (tag 1), e_2 (tag 2), e_2 (tag -1), tau 0.5: log p = 2 - log(e^2 + 1)."""
    keys = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    loss = lil_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([1]), keys, torch.tensor([1, 2, -1]), tau_l=0.5)
    assert math.isclose(loss.item(), -(2 - math.log(math.exp(2) + 1)), rel_tol=1e-6)


def test_floor_by_hand_and_the_loss_never_goes_below_it():
    """Positives: 2 keys for the tag-1 query, 3 for tag 2, none for -1 or 7: floor (2 ln 2 + 3 ln 3) / 5."""
    tags, key_tags = torch.tensor([1, 2, -1, 7]), torch.tensor([1, 1, 2, 2, 2, -1, 0])
    assert math.isclose(lil_floor(tags, key_tags).item(), (2 * math.log(2) + 3 * math.log(3)) / 5, rel_tol=1e-6)
    assert lil_floor(torch.tensor([-1]), key_tags).item() == 0.0
    generator = torch.Generator().manual_seed(0)
    keys = torch.nn.functional.normalize(torch.randn(7, 4, generator=generator), dim=1)
    for _ in range(20):
        q = torch.nn.functional.normalize(torch.randn(4, 4, generator=generator), dim=1)
        assert lil_loss(q, tags, keys, key_tags, tau_l=0.1) >= lil_floor(tags, key_tags) - 1e-6
    # reached when a query's mass sits evenly on its positives: identical positive keys, the rest far away
    tight = torch.tensor([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]])
    loss = lil_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([1]), tight, torch.tensor([1, 1, 2, 2]), tau_l=0.1)
    assert math.isclose(loss.item(), lil_floor(torch.tensor([1]), torch.tensor([1, 1, 2, 2])).item(), abs_tol=1e-6)


def test_public_lil_drops_both_copies_of_the_own_key_from_the_denominator():
    """Issue 25: the public key set holds this step's key k twice (as a key and in the reservoir after the push),
    bit-identical. Query q (tag 1) is most similar to its own k, so both copies have a shifted logit of exactly 0
    and leave the denominator S, which sums the four older keys only. The positives are k twice (logit 0, not
    counted) and e2, so with M = 6 keys r = L(e2) - 6 log S and the loss is -r."""
    q = F.normalize(torch.tensor([[1.0, 0.2, 0.0]]), dim=1)
    k = F.normalize(torch.tensor([[1.0, 0.25, 0.1]]), dim=1)
    assert not torch.equal(F.normalize(k, dim=1), k)  # normalising it again would move the queued copy
    older = {"e2": ([0.0, 1.0, 0.0], 1), "a": ([1.0, 0.15, -0.1], 2), "b": ([1.0, 0.1, 0.2], 0),
             "e1": ([1.0, 0.0, 0.0], 0)}
    pool = Reservoir(capacity=8, dim=3)
    pool.push(torch.tensor([v for v, _ in older.values()]), torch.tensor([t for _, t in older.values()]))
    tags = torch.tensor([1])
    pool_keys, pool_tags = pool.snapshot_public(k, tags)
    keys, key_tags = torch.cat([k, pool_keys]), torch.cat([tags, pool_tags])
    tau = 0.08
    loss = lil_loss_public(q, tags, keys, key_tags, tau, fired=torch.zeros(1, dtype=torch.bool))

    def cos(u: list[float], v: list[float]) -> float:
        return sum(a * b for a, b in zip(u, v)) / math.hypot(*u) / math.hypot(*v)

    own = cos([1.0, 0.2, 0.0], [1.0, 0.25, 0.1])
    shifted = {name: (cos([1.0, 0.2, 0.0], v) - own) / tau for name, (v, _) in older.items()}
    assert max(shifted.values()) < 0  # k is the most similar key
    denominator = sum(math.exp(v) for v in shifted.values())
    expected = -(shifted["e2"] - 6 * math.log(denominator))
    assert expected > 0 and math.isclose(loss.item(), expected, rel_tol=1e-4)
    with_copy = -(shifted["e2"] - 6 * math.log(denominator + 1.0))  # the queued copy kept: S + exp(~0)
    assert not math.isclose(loss.item(), with_copy, rel_tol=1e-2)
