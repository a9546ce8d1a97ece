"""Dense CRF post-processing and its streaming worker pool."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import numpy as np
import pytest

from seco.evaluation import crf
from seco.evaluation.crf import CRFPool, crf_available, dense_crf

requires_crf = pytest.mark.skipif(
    not crf_available(), reason="pydensecrf (optional extra seco-wsss[crf], pip package pydensecrf2) is not installed"
)


def two_halves(size: int = 16, flip: float = 0.3, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An image with a red left half and a blue right half, its labels, and noisy 2-class probabilities."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((size, size), dtype=np.int64)
    labels[:, size // 2 :] = 1
    rgb = np.zeros((size, size, 3), dtype=np.uint8)
    rgb[labels == 0] = (220, 30, 30)
    rgb[labels == 1] = (30, 30, 220)
    p_true = np.where(rng.random((size, size)) < flip, 0.4, 0.65)
    probs = np.stack([np.where(labels == 0, p_true, 1 - p_true), np.where(labels == 1, p_true, 1 - p_true)])
    return rgb, probs.astype(np.float32), labels


@requires_crf
def test_crf_follows_colour_edges_better_than_argmax() -> None:
    rgb, probs, labels = two_halves()
    noisy_acc = (probs.argmax(0) == labels).mean()
    refined = dense_crf(rgb, probs)
    assert refined.dtype == np.uint8 and refined.shape == labels.shape
    assert noisy_acc < 0.8
    assert (refined == labels).mean() > noisy_acc + 0.15


@requires_crf
def test_crf_rejects_mismatched_shapes() -> None:
    rgb, probs, _ = two_halves()
    with pytest.raises(ValueError, match="H, W"):
        dense_crf(rgb, probs[:, :8])
    with pytest.raises(ValueError, match="uint8"):
        dense_crf(rgb.astype(np.float32), probs)


@requires_crf
@pytest.mark.parametrize("workers", [0, 2])
def test_pool_streams_in_input_order_with_a_bounded_window(workers: int) -> None:
    items = [two_halves(size=8 + 4 * (i % 3), seed=i) for i in range(7)]
    pulled: list[int] = []

    def stream() -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        for i, (rgb, probs, _) in enumerate(items):
            pulled.append(i)
            yield f"img{i}", rgb, probs.astype(np.float16)

    with CRFPool(workers=workers, iters=5) as pool:
        results = []
        for key, labels in pool.imap(stream()):
            results.append((key, labels))
            assert len(pulled) - len(results) <= pool.window
    assert [key for key, _ in results] == [f"img{i}" for i in range(7)]
    for (rgb, probs, _), (_, labels) in zip(items, results):
        assert np.array_equal(labels, dense_crf(rgb, probs.astype(np.float16), iters=5))


@requires_crf
def test_pool_checks_crf_options_up_front() -> None:
    with pytest.raises(TypeError, match="bogus"):
        CRFPool(workers=0, bogus=1.0)


def test_missing_extra_raises_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pydensecrf", None)
    monkeypatch.setitem(sys.modules, "pydensecrf.densecrf", None)
    assert not crf.crf_available()
    rgb, probs, _ = two_halves()
    with pytest.raises(RuntimeError, match=r"pip install 'seco-wsss\[crf\]'"):
        dense_crf(rgb, probs)
    with pytest.raises(RuntimeError, match="optional extra"):
        CRFPool(workers=0)
