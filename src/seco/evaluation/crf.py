"""Dense CRF post-processing (optional extra ``seco-wsss[crf]``, i.e. pydensecrf2).

Settings follow the published evaluation: unary = -log(probability),
a Gaussian (smoothness) kernel with sxy 1 and compatibility 1, a bilateral
(appearance) kernel with sxy 121, srgb 5 and compatibility 4, 10 mean-field
iterations.

:class:`CRFPool` streams items through worker processes with a bounded number
in flight, so evaluation never holds every probability map in memory and never
writes float maps to disk.
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import Hashable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context

import numpy as np

from seco.errors import SecoError

__all__ = ["CRFPool", "crf_available", "dense_crf"]

MISSING_MESSAGE = "dense CRF needs the optional extra: pip install 'seco-wsss[crf]' (or set eval.crf=false)"
PROB_FLOOR = 1e-8


def crf_available() -> bool:
    """Whether pydensecrf (the ``crf`` extra) can be imported."""
    try:
        import pydensecrf.densecrf  # noqa: F401
    except ImportError:
        return False
    return True


class MissingExtraError(SecoError, RuntimeError):
    """An optional extra (here pydensecrf2) is not installed."""


def _require_crf() -> None:
    if not crf_available():
        raise MissingExtraError(MISSING_MESSAGE)


def _label_dtype(num_classes: int) -> type[np.integer]:
    return np.uint8 if num_classes <= 256 else np.int16


def dense_crf(
    rgb: np.ndarray,
    probs: np.ndarray,
    iters: int = 10,
    pos_xy: float = 1.0,
    pos_w: float = 1.0,
    bi_xy: float = 121.0,
    bi_rgb: float = 5.0,
    bi_w: float = 4.0,
) -> np.ndarray:
    """Refine class probabilities (C, H, W) with a dense CRF on their image (H, W, 3 uint8).

    Returns the HxW label map (uint8 for up to 256 classes, else int16).
    Raises RuntimeError when pydensecrf is not installed.
    """
    _require_crf()
    import pydensecrf.densecrf as dcrf

    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"rgb must be an HxWx3 uint8 image, got {rgb.dtype} {rgb.shape}")
    if probs.ndim != 3 or probs.shape[1:] != rgb.shape[:2]:
        raise ValueError(f"probs must be (C, H, W) with H, W = {rgb.shape[:2]}, got {probs.shape}")
    num_classes, height, width = probs.shape
    unary = -np.log(np.clip(probs.astype(np.float32), PROB_FLOOR, 1.0)).reshape(num_classes, -1)
    crf = dcrf.DenseCRF2D(width, height, num_classes)
    crf.setUnaryEnergy(np.ascontiguousarray(unary))
    crf.addPairwiseGaussian(sxy=pos_xy, compat=pos_w)
    crf.addPairwiseBilateral(sxy=bi_xy, srgb=bi_rgb, rgbim=np.ascontiguousarray(rgb), compat=bi_w)
    q = np.asarray(crf.inference(iters), dtype=np.float32).reshape(num_classes, height, width)
    return q.argmax(axis=0).astype(_label_dtype(num_classes))


Item = tuple[Hashable, np.ndarray, np.ndarray]


class CRFPool:
    """Runs :func:`dense_crf` over a stream of ``(key, rgb, probs)`` items.

    ``workers`` processes (0: inline in the caller) each refine one image at a
    time with the keyword settings ``crf_options`` of :func:`dense_crf`
    (checked here; its defaults otherwise). At most ``window`` items (default
    ``2 * workers``) are in flight, so memory stays bounded however long the
    stream. Results come back in input order as ``(key, labels)``.
    Probabilities may be float16 to halve the transfer. Workers are spawned
    (not forked) so a parent holding CUDA or thread pools stays safe. Use as a
    context manager or call :meth:`close`.
    """

    def __init__(self, workers: int = 2, window: int | None = None, **crf_options: float) -> None:
        _require_crf()
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        inspect.signature(dense_crf).bind_partial(**crf_options)
        self.crf_options = crf_options
        self.window = window if window is not None else max(1, 2 * workers)
        if self.window < 1:
            raise ValueError(f"window must be >= 1, got {self.window}")
        self._executor = (
            ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) if workers else None
        )

    def imap(self, items: Iterable[Item]) -> Iterator[tuple[Hashable, np.ndarray]]:
        """Yield ``(key, labels)`` for each item, in order, pulling items lazily."""
        if self._executor is None:
            for key, rgb, probs in items:
                yield key, dense_crf(rgb, probs, **self.crf_options)
            return
        pending: deque[tuple[Hashable, Future[np.ndarray]]] = deque()
        try:
            for key, rgb, probs in items:
                pending.append((key, self._executor.submit(dense_crf, rgb, probs, **self.crf_options)))
                if len(pending) >= self.window:
                    done_key, future = pending.popleft()
                    yield done_key, future.result()
            while pending:
                done_key, future = pending.popleft()
                yield done_key, future.result()
        finally:
            for _, future in pending:
                future.cancel()

    def close(self) -> None:
        """Shut the worker processes down."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> CRFPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
