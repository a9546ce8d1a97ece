
import torch
import torch.nn.functional as F

from seco.method.reservoir import Reservoir


def _keys(n: int, start: float = 0.0) -> torch.Tensor:
    angles = torch.arange(n, dtype=torch.float32) + start
    return torch.stack([angles.cos(), angles.sin()], dim=1) * 3.0  # not unit length on purpose


def test_starts_empty_with_per_vector_normalised_keys():
    pool = Reservoir(capacity=8, dim=5)
    assert torch.allclose(pool.keys.norm(dim=1), torch.ones(8))
    assert (pool.tags == -1).all() and int(pool.filled) == 0 and int(pool.ptr) == 0
    keys, tags = pool.snapshot()
    assert keys.shape == (0, 5) and tags.shape == (0,)
    assert not pool.valid.any()


def test_push_normalises_and_detaches():
    pool = Reservoir(capacity=4, dim=2)
    keys = _keys(2).requires_grad_()
    pool.push(keys, torch.tensor([1, 2]))
    stored, tags = pool.snapshot()
    assert not stored.requires_grad
    assert torch.allclose(stored, keys.detach() / 3.0)
    assert tags.tolist() == [1, 2]


def test_fifo_order_and_wrap_around():
    pool = Reservoir(capacity=4, dim=2)
    pool.push(_keys(3), torch.tensor([1, 2, 3]))
    assert int(pool.ptr) == 3 and int(pool.filled) == 3
    assert pool.valid.tolist() == [True, True, True, False]
    pool.push(_keys(3, start=10), torch.tensor([4, 5, 6]))
    # 4 goes to the free slot 3, then 5 and 6 replace the oldest (1 and 2).
    assert pool.tags.tolist() == [5, 6, 3, 4]
    assert int(pool.ptr) == 2 and int(pool.filled) == 4
    assert torch.allclose(pool.keys[0], _keys(3, start=10)[1] / 3.0)
    pool.push(_keys(1, start=20), torch.tensor([7]))
    assert pool.tags.tolist() == [5, 6, 7, 4]  # 3 was the oldest


def test_push_larger_than_capacity_keeps_the_newest():
    pool = Reservoir(capacity=4, dim=2)
    pool.push(_keys(1), torch.tensor([0]))
    pool.push(_keys(6, start=1), torch.tensor([1, 2, 3, 4, 5, 6]))
    keys, tags = pool.snapshot()
    assert sorted(tags.tolist()) == [3, 4, 5, 6]
    assert int(pool.filled) == 4 and pool.capacity == 4
    # the newest key (6) is the last written; the next push overwrites 3, the oldest.
    pool.push(_keys(1, start=30), torch.tensor([9]))
    assert sorted(pool.tags.tolist()) == [4, 5, 6, 9]


def test_class_counts_ignores_uncertain_and_empty_slots():
    pool = Reservoir(capacity=8, dim=2)
    pool.push(_keys(5), torch.tensor([0, 2, 2, -1, 1]))
    assert pool.class_counts(3).tolist() == [1, 1, 2, 0]


def test_state_dict_round_trip(tmp_path):
    pool = Reservoir(capacity=4, dim=3)
    pool.push(torch.randn(6, 3), torch.tensor([1, 0, 2, 2, -1, 1]))
    path = tmp_path / "pool.pt"
    torch.save(pool.state_dict(), path)
    state = torch.load(path, weights_only=True)
    assert set(state) == {"keys", "tags", "ptr", "filled"}
    restored = Reservoir(capacity=4, dim=3)
    restored.load_state_dict(state)
    for name in state:
        assert torch.equal(getattr(restored, name), getattr(pool, name))
    new = torch.randn(1, 3)
    pool.push(new, torch.tensor([3]))
    restored.push(new, torch.tensor([3]))
    assert torch.equal(restored.tags, pool.tags) and torch.equal(restored.keys, pool.keys)


def test_public_init_is_full_of_background_keys_normalised_across_entries():
    pool = Reservoir(capacity=12, dim=3, init="public")
    keys, tags = pool.snapshot()
    assert keys.shape == (12, 3) and tags.tolist() == [0] * 12
    torch.testing.assert_close(keys.norm(dim=0), torch.ones(3))  # each column, not each key, has unit norm
    assert not torch.allclose(keys.norm(dim=1), torch.ones(12))


def test_snapshot_public_previews_the_push_without_doing_it():
    pool = Reservoir(capacity=6, dim=2)
    pool.push(torch.randn(4, 2), torch.tensor([1, 2, 0, 1]))
    new_keys, new_tags = torch.randn(4, 2), torch.tensor([3, 3, -1, 0])
    preview = pool.snapshot_public(new_keys, new_tags)
    assert pool.snapshot()[1].tolist() == [1, 2, 0, 1]  # unchanged
    pool.push(new_keys, new_tags)
    after = pool.snapshot()
    assert torch.equal(preview[0], after[0]) and torch.equal(preview[1], after[1])
    assert after[1].tolist() == [-1, 0, 0, 1, 3, 3]  # slots 4, 5, then 0, 1 overwritten (FIFO)


def test_loading_a_state_restores_the_held_count():
    pool = Reservoir(capacity=6, dim=2)
    pool.push(torch.randn(3, 2), torch.tensor([1, 1, 1]))
    fresh = Reservoir(capacity=6, dim=2)
    fresh.load_state_dict(pool.state_dict())
    assert fresh.snapshot()[1].tolist() == [1, 1, 1]


def test_unit_keys_are_stored_bit_for_bit():
    """The step's keys come unit-length from the projection head; normalising them again moves some by an ulp,
    and the public LiL tells a query's own key from its queued copy by exact equality (issue 25)."""
    keys = F.normalize(torch.randn(32, 16, generator=torch.Generator().manual_seed(0)), dim=1)
    assert not torch.equal(F.normalize(keys, dim=1), keys)
    tags = torch.arange(32) % 3
    pool = Reservoir(capacity=64, dim=16)
    preview, _ = pool.snapshot_public(keys, tags)
    pool.push(keys, tags)
    assert torch.equal(preview, keys) and torch.equal(pool.snapshot()[0], keys)


def test_a_push_into_the_public_start_leaves_the_other_random_keys_as_they_were():
    pool = Reservoir(capacity=12, dim=2, init="public")
    start = pool.keys.clone()
    pool.push(_keys(3), torch.tensor([1, 2, 3]))
    assert torch.equal(pool.keys[3:], start[3:])  # still normalised across entries, not per key
    torch.testing.assert_close(pool.keys[:3].norm(dim=1), torch.ones(3))
