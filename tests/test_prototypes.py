import math

import torch
import torch.nn.functional as F

from seco.method.prototypes import Prototypes


def _ready(rows: list[list[float]], rule: str = "batch_mean") -> Prototypes:
    protos = Prototypes(len(rows), len(rows[0]), rule)
    protos.P.copy_(torch.tensor(rows))
    protos.initialised.fill_(True)
    return protos


def test_starts_random_normalised_and_uninitialised():
    protos = Prototypes(3, 4)
    assert torch.allclose(protos.P.norm(dim=1), torch.ones(3))
    assert not protos.initialised.any()


def test_single_label_update_by_hand():
    protos = _ready([[1.0, 0.0]])
    protos.update(torch.tensor([[0.0, 1.0]]), torch.tensor([[1]]), momentum=0.9)
    norm = math.sqrt(0.9**2 + 0.1**2)
    assert torch.allclose(protos.P, torch.tensor([[0.9 / norm, 0.1 / norm]]))


def test_first_sighting_initialises_from_data():
    protos = Prototypes(2, 2, "batch_mean")
    before = protos.P[1].clone()
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    protos.update(z, torch.tensor([[1, 0], [1, 0]]), momentum=0.9)
    assert torch.allclose(protos.P[0], F.normalize(torch.tensor([1.0, 1.0]), dim=0))
    assert protos.initialised.tolist() == [True, False]
    assert torch.equal(protos.P[1], before)


def test_same_class_images_use_their_mean():
    protos = _ready([[1.0, 0.0]])
    z = torch.tensor([[0.0, 1.0], [0.0, -1.0], [0.6, 0.8]])
    protos.update(z, torch.ones(3, 1), momentum=0.5)
    mean = z.mean(dim=0)
    expected = F.normalize(0.5 * torch.tensor([1.0, 0.0]) + 0.5 * mean, dim=0)
    assert torch.allclose(protos.P[0], expected)
    shuffled = _ready([[1.0, 0.0]])
    shuffled.update(z.flip(0), torch.ones(3, 1), momentum=0.5)
    assert torch.allclose(shuffled.P, protos.P)


def test_multi_label_images_are_ignored_unless_adaptive():
    protos = _ready([[1.0, 0.0], [0.0, 1.0]])
    before = protos.P.clone()
    protos.update(F.normalize(torch.tensor([[1.0, 1.0]]), dim=1), torch.tensor([[1, 1]]), momentum=0.9)
    assert torch.equal(protos.P, before)
    empty = _ready([[1.0, 0.0], [0.0, 1.0]])
    empty.update(torch.tensor([[0.6, 0.8]]), torch.tensor([[0, 0]]), momentum=0.9, adaptive=True)
    assert torch.equal(empty.P, before)


def test_adaptive_weights_by_hand():
    protos = _ready([[1.0, 0.0], [0.0, 1.0]])
    z = torch.tensor([[0.6, 0.8]])
    protos.update(z, torch.tensor([[1, 1]]), momentum=0.9, adaptive=True)
    w0 = math.exp(0.6) / (math.exp(0.6) + math.exp(0.8))
    w1 = 1.0 - w0
    p0 = F.normalize(torch.tensor([0.9 + w0 * 0.1 * 0.6, w0 * 0.1 * 0.8]), dim=0)
    p1 = F.normalize(torch.tensor([w1 * 0.1 * 0.6, 0.9 + w1 * 0.1 * 0.8]), dim=0)
    assert torch.allclose(protos.P, torch.stack([p0, p1]), atol=1e-6)


def test_adaptive_softmax_skips_uninitialised_classes():
    protos = _ready([[1.0, 0.0], [0.0, 1.0]])
    protos.initialised[1] = False
    before = protos.P[1].clone()
    z = torch.tensor([[0.6, 0.8]])
    protos.update(z, torch.tensor([[1, 1]]), momentum=0.9, adaptive=True)
    assert torch.allclose(protos.P[0], F.normalize(torch.tensor([0.9 + 0.06, 0.08]), dim=0))  # W_0 = 1
    assert torch.equal(protos.P[1], before) and not bool(protos.initialised[1])


def test_state_dict_round_trip(tmp_path):
    protos = Prototypes(3, 4, "batch_mean")
    protos.update(F.normalize(torch.randn(2, 4), dim=1), torch.tensor([[1, 0, 0], [0, 0, 1]]), momentum=0.9)
    path = tmp_path / "protos.pt"
    torch.save(protos.state_dict(), path)
    restored = Prototypes(3, 4, "batch_mean")
    restored.load_state_dict(torch.load(path, weights_only=True))
    assert torch.equal(restored.P, protos.P)
    assert restored.initialised.tolist() == [True, False, True]


def test_per_image_applies_eq_3_image_by_image():
    """Two single-label images of class 1 in order: P <- Norm(0.5 P + 0.5 z1), then Norm(0.5 P + 0.5 z2)."""
    protos = _ready([[1.0, 0.0]], "per_image")
    z = torch.tensor([[0.0, 1.0], [0.6, -0.8]])
    protos.update(z, torch.ones(2, 1), momentum=0.5)
    first = F.normalize(torch.tensor([0.5, 0.5]), dim=0)
    expected = F.normalize(0.5 * first + 0.5 * z[1], dim=0)
    torch.testing.assert_close(protos.P[0], expected)


def test_per_image_first_sight_then_momentum_within_one_batch():
    protos = Prototypes(1, 2, "per_image")
    z = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    protos.update(z, torch.ones(2, 1), momentum=0.9)
    first = torch.tensor([0.6, 0.8])
    torch.testing.assert_close(protos.P[0], F.normalize(0.9 * first + 0.1 * z[1], dim=0))
    assert bool(protos.initialised[0])


def test_public_rule_accumulates_raw_tokens_then_normalises_every_row():
    """The public code: rows start as raw Gaussian noise and count as initialised; a single-label image adds
    eta P + (1 - eta) z with z unnormalised; all rows are normalised once after the batch; multi-label
    images (label_idx -1) are skipped."""
    protos = Prototypes(2, 2, "public")
    assert protos.initialised.all()
    protos.P.copy_(torch.tensor([[2.0, 0.0], [0.0, 3.0]]))
    z = torch.tensor([[0.0, 10.0], [10.0, 0.0], [5.0, 5.0]])
    labels = torch.tensor([[1, 0], [1, 0], [1, 1]])
    protos.update(z, labels, momentum=0.9)
    row0 = 0.9 * (0.9 * torch.tensor([2.0, 0.0]) + 0.1 * z[0]) + 0.1 * z[1]
    torch.testing.assert_close(protos.P[0], F.normalize(row0, dim=0))
    torch.testing.assert_close(protos.P[1], torch.tensor([0.0, 1.0]))  # never updated, still normalised


def test_similarity_is_the_mean_cosine_over_distinct_initialised_pairs() -> None:
    protos = Prototypes(3, 2)
    assert torch.isnan(protos.similarity())  # nothing initialised: no pair
    protos.P.copy_(torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]]))
    protos.initialised.copy_(torch.tensor([True, True, False]))
    assert torch.allclose(protos.similarity(), torch.tensor(0.6))  # cos(P0, P1) only
    protos.initialised.fill_(True)
    assert torch.allclose(protos.similarity(), torch.tensor((0.6 + 0.0 + 0.8) / 3))


def test_prototypes_from_patches_follow_the_class_tagged_keys_only():
    """``prototypes.source=patches``: each key tagged a class is an "image" of that class (eq. 3);
    background, uncertain and the whole images' class tokens update nothing."""
    from types import SimpleNamespace

    from seco.config import MethodConfig
    from seco.method.contrast import update_prototypes

    cfg = MethodConfig()
    cfg.prototypes.source, cfg.prototypes.start_iter, cfg.prototypes.momentum = "patches", 0, 0.5
    prototypes = Prototypes(3, 2, "per_image")
    keys = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [0.0, -1.0]])
    tags = torch.tensor([2, 0, 2, -1])  # class 2 twice, then background and uncertain
    images = SimpleNamespace(embedding=torch.tensor([[0.0, 1.0]]), cls=None)
    labels = torch.tensor([[1.0, 0.0, 0.0]])  # the image says class 1: ignored under this source
    update_prototypes(prototypes, cfg, images, labels, 0, (keys, tags))
    assert prototypes.initialised.tolist() == [False, True, False]
    # first sight sets P_2 = (1, 0); then Norm(0.5 (1, 0) + 0.5 (0.6, 0.8)) = Norm(0.8, 0.4)
    assert torch.allclose(prototypes.P[1], F.normalize(torch.tensor([0.8, 0.4]), dim=0))
    update_prototypes(prototypes, cfg, images, labels, 0)  # a step without patches: nothing moves
    assert torch.allclose(prototypes.P[1], F.normalize(torch.tensor([0.8, 0.4]), dim=0))
