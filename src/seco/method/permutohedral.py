"""A permutohedral lattice in plain PyTorch: the public code's approximation of the dense bilateral sum ``W V``.

The reg loss's dense energy ``-1e-7 / B sum_i g_i S_i . (W S)_i`` (docs/method.md, the ``reg`` row;
:mod:`seco.method.losses.dense_energy`) needs ``(W V)_i = sum_j exp(-|f_i - f_j|^2 / 2) V_j`` over every pixel
pair, with ``f = (x / sigma_xy, y / sigma_xy, rgb / sigma_rgb)``. The public code (Tang et al.'s ``bilateralfilter``,
built on Kraehenbuehl's DenseCRF ``permutohedral.cpp``) evaluates it with the permutohedral lattice of Adams, Baek &
Davis, "Fast High-Dimensional Filtering Using the Permutohedral Lattice", Eurographics 2010, in O(N d^2): each point
is lifted onto the hyperplane ``x . 1 = 0`` of R^(d+1) (scaled by ``sqrt(2/3) (d+1)``), *splatted* with its
barycentric weights onto the d+1 vertices of the lattice simplex that encloses it, the vertex values are *blurred*
with ``[1, 2, 1] / 2`` along each of the d+1 lattice directions in turn (a vertex absent from the lattice counts as
0), and *sliced* back with the same weights, times ``alpha = 1 / (1 + 2^-d)``. This module does the same in tensor
operations, batched over images: the vertices are integer keys, packed into one int64 each (the image's index its
leading digit, so images never share a vertex) and made unique with ``torch.unique(return_inverse=True)``; a
neighbour along a lattice direction is a constant offset of the packed key, found with ``torch.searchsorted``.

How its kernel differs from the exact Gaussian (measured by ``tests/test_permutohedral.py`` and
``benchmarks/dense_energy.py``, table in docs/performance.md): the blur passes values only between vertices that
some point splats onto (an absent vertex counts as 0), so where the points fill only part of the 5-d space, as an
image's pixels do (a 2-d surface), most of what the blur would spread is lost. In a flat-colour image a pixel's
weights come out about half the Gaussian's: its self weight 0.43-0.81 (mean 0.51) against ``W_ii = 1``, the weights'
sum 0.55 of the Gaussian's, a slightly wider profile (fitted std 1.06 feature units against 1) cut off at
about 3 units; on random 16 x 16 images the energy is 0.43-0.46 of the exact one, and its gradient, rescaled, within
11-13 % of the exact gradient. It is also not shift-invariant (a weight depends on where the two points fall in
their simplices) and not exactly symmetric (the directions are blurred in a fixed order). ``alpha`` is a constant,
blind to all this. The scale factors, the blur, the simplex ranks' tie-breaking, the absent vertices and ``alpha``
are the C++ filter's (read step by step from Kraehenbuehl's ``permutohedral.cpp``; not compared with a compiled
copy), so its scaling is the public code's: the public reg energy is this one, about half the exact energy that
the ``blocked`` and ``sdpa`` kernels compute. Floating-point order differs, so it would agree with the C++ filter to
rounding, not bit for bit.

The filter is differentiable with respect to the filtered values (its backward is the exact adjoint, the same
lattice with the blur's directions reversed, as the C++ filter's ``reverse``; the lattice is built from the
features without gradient) and deterministic on every device: the splat accumulates with
``index_put_(accumulate=True)`` in float64 (serial on a CPU, sort-based on CUDA), the blur and the slice gather.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = ["PermutohedralLattice", "permutohedral_filter"]


@dataclass(frozen=True)
class PermutohedralLattice:
    """The lattice of a batch of point sets: which vertices each point splats onto, with which weights, and
    each vertex's neighbours along the d+1 lattice directions.

    Attributes:
        vertex: (B, N, d+1) int64, the row of each point's enclosing-simplex vertices (rows of all images together).
        weight: (B, N, d+1) barycentric weights, summing to 1 per point.
        neighbours: (d+1, 2, M+1) int64, each row's neighbour below and above along each direction; ``M`` (the
            appended zero row) where the neighbour is not in the lattice, and for the zero row itself.
        size: M, the number of distinct vertices.
    """

    vertex: Tensor
    weight: Tensor
    neighbours: Tensor
    size: int

    @classmethod
    @torch.no_grad()
    def build(cls, features: Tensor) -> PermutohedralLattice:
        """The lattice of ``features`` (B, N, d), already divided by their bandwidths (unit-std kernel)."""
        batch, points, dim = features.shape
        with torch.autocast(features.device.type, enabled=False):  # bf16 would move points across simplices
            elevated = features.float() @ _elevation(dim, features.device)  # (B, N, d+1), on the plane x . 1 = 0
        remainder0, rank = _enclosing_simplex(elevated)
        weight = _barycentric(elevated, remainder0, rank)
        keys = _vertex_keys(remainder0, rank)  # (B, N, d+1 vertices, d)
        codes, strides = _pack(keys)
        unique, inverse = torch.unique(codes.flatten(), sorted=True, return_inverse=True)
        size = unique.numel()
        # along direction j the neighbour's key is key - 1 with key[j] + d (j < d), or key - 1 (j = d)
        total = int(strides.sum())
        steps = [(dim + 1) * int(strides[j]) - total for j in range(dim)] + [-total]
        below = [_find(unique, unique + step) for step in steps]
        neighbours = torch.stack([torch.stack([rows, _opposite(rows)]) for rows in below])
        return cls(inverse.view(batch, points, dim + 1), weight, neighbours, size)

    def filter(self, values: Tensor) -> Tensor:
        """``(W~ V)_i`` for ``values`` (B, N, C), the lattice's approximation of ``(W V)_i``; differentiable."""
        return _LatticeFilter.apply(values, self)

    @torch.no_grad()
    def compute(self, values: Tensor, reverse: bool = False) -> Tensor:
        """Splat, blur along directions 0..d (``reverse``: d..0, the adjoint), slice; ``values`` (B, N, C).

        Each direction's blur ``v_i + (v_below(i) + v_above(i)) / 2`` is a symmetric matrix (i is above its
        neighbour below), so the filter ``alpha S^T B_d .. B_0 S`` has the adjoint ``alpha S^T B_0 .. B_d S``. The
        splat accumulates in float64, which ``index_put_`` sums serially on a CPU (float32 would take its
        parallel, atomic and so unordered path) and sorted on CUDA: the same bits on every call.
        """
        batch, points, channels = values.shape
        vertices = self.vertex.shape[-1]
        flat = values.reshape(batch * points, channels)
        vertex, weight = self.vertex.reshape(-1, vertices), self.weight.reshape(-1, vertices).to(flat.dtype)
        rows = torch.zeros(self.size + 1, channels, dtype=torch.float64, device=flat.device)
        for k in range(vertices):
            rows.index_put_((vertex[:, k],), (weight[:, k, None] * flat).double(), accumulate=True)
        rows = rows.to(flat.dtype)
        for below, above in (self.neighbours.flip(0) if reverse else self.neighbours):
            rows = rows + 0.5 * (rows.index_select(0, below) + rows.index_select(0, above))
        out = torch.zeros_like(flat)
        for k in range(vertices):
            out.addcmul_(weight[:, k, None], rows.index_select(0, vertex[:, k]))
        alpha = 1.0 / (1.0 + 2.0 ** -(vertices - 1))
        return (alpha * out).view(batch, points, channels)


class _LatticeFilter(torch.autograd.Function):
    """The lattice filter with its exact adjoint as the backward (no graph through the splat, blur and slice)."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, values: Tensor,  # type: ignore[override]
                lattice: PermutohedralLattice) -> Tensor:
        ctx.lattice = lattice  # type: ignore[attr-defined]
        return lattice.compute(values)

    @staticmethod
    @once_differentiable
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> tuple[Tensor, None]:  # type: ignore[override]
        return ctx.lattice.compute(grad.contiguous(), reverse=True), None  # type: ignore[attr-defined]


def permutohedral_filter(values: Tensor, features: Tensor) -> Tensor:
    """``(W~ V)_i ~ sum_j exp(-|f_i - f_j|^2 / 2) V_j`` for each image through a permutohedral lattice.

    Args:
        values: (B, N, C) the values to filter (gradients flow to them).
        features: (B, N, d) the points' features divided by their bandwidths.

    Returns:
        (B, N, C) in ``values``' dtype.
    """
    return PermutohedralLattice.build(features).filter(values)


def _elevation(dim: int, device: torch.device) -> Tensor:
    """(d, d+1): a feature vector's coordinates on the plane ``x . 1 = 0``, scaled by ``sqrt(2/3) (d+1)``.

    Row k is ``s_k (1, .., 1, -(k+1), 0, .., 0)`` with k+1 ones, ``s_k = sqrt(2/3) (d+1) / sqrt((k+1)(k+2))``: the
    rows are orthogonal, each of length ``sqrt(2/3) (d+1)`` (Adams et al.'s E matrix with the C++ filter's scale).
    """
    matrix = torch.zeros(dim, dim + 1, dtype=torch.float64)
    for k in range(dim):
        matrix[k, : k + 1] = 1.0
        matrix[k, k + 1] = -(k + 1.0)
        matrix[k] *= math.sqrt(2.0 / 3.0) * (dim + 1) / math.sqrt((k + 1) * (k + 2))
    return matrix.to(device=device, dtype=torch.float32)


def _enclosing_simplex(elevated: Tensor) -> tuple[Tensor, Tensor]:
    """The nearest remainder-0 lattice point (int64, (.., d+1)) and the rank of each coordinate's offset from it.

    Each coordinate is rounded to the nearest multiple of d+1; ``rank[i]`` counts the coordinates whose offset is
    larger (ties: the later coordinate ranks higher, as in the C++ filter); when the rounded point is off the plane
    by ``s (d+1)``, the ranks are shifted by ``s`` and wrapped into 0..d, moving the point by d+1 where they wrap.
    """
    order = elevated.shape[-1]
    scaled = elevated * (1.0 / order)
    up, down = torch.ceil(scaled) * order, torch.floor(scaled) * order
    remainder0 = torch.where(up - elevated < elevated - down, up, down)
    offset = elevated - remainder0
    index = torch.arange(order, device=elevated.device)
    later = index[None, :] > index[:, None]  # [i, j]: j after i
    mine, other = offset[..., :, None], offset[..., None, :]
    above = torch.where(later, other > mine, other >= mine) & (index[None, :] != index[:, None])
    remainder0 = remainder0.long()
    rank = above.sum(-1) + remainder0.sum(-1, keepdim=True) // order
    wrap = (rank < 0).long() - (rank >= order).long()
    return remainder0 + order * wrap, rank + order * wrap


def _barycentric(elevated: Tensor, remainder0: Tensor, rank: Tensor) -> Tensor:
    """(.., d+1) weights of the simplex vertices 0..d: with ``u_k`` the offset (over d+1) of the coordinate ranked
    ``d - k``, ``b_k = u_k - u_{k-1}`` and ``b_0 = 1 + u_0 - u_d``."""
    order = elevated.shape[-1]
    offset = (elevated - remainder0.to(elevated.dtype)) * (1.0 / order)
    ranked = torch.zeros_like(offset).scatter(-1, order - 1 - rank, offset)  # u, one coordinate per slot
    weight = ranked - torch.nn.functional.pad(ranked[..., :-1], [1, 0])
    return torch.cat([weight[..., :1] + 1.0 - ranked[..., -1:], weight[..., 1:]], dim=-1)


def _vertex_keys(remainder0: Tensor, rank: Tensor) -> Tensor:
    """(.., d+1, d) the first d coordinates of the simplex's vertices: vertex k adds ``k`` to each coordinate,
    less ``d+1`` where the coordinate's rank exceeds ``d - k`` (the last coordinate is minus their sum)."""
    order = remainder0.shape[-1]
    k = torch.arange(order, device=remainder0.device)[:, None]
    return remainder0[..., None, :-1] + k - order * (rank[..., None, :-1] > order - 1 - k).long()


def _pack(keys: Tensor) -> tuple[Tensor, Tensor]:
    """One int64 per key (B, N, d+1, d): mixed-radix digits over each coordinate's range, widened by d+1 on both
    sides so that a neighbour's key (each coordinate moved by at most d) never carries into another digit; the
    image's index is the leading digit. Returns the codes and the coordinates' strides."""
    batch, dim = keys.shape[0], keys.shape[-1]
    flat = keys.reshape(-1, dim)
    low = flat.amin(0) - (dim + 1)
    spans = (flat.amax(0) - low + dim + 2).tolist()
    strides = [math.prod(spans[i + 1 :]) for i in range(dim)]
    if batch * math.prod(spans) >= 2**62:
        raise ValueError(f"permutohedral lattice: keys spanning {spans} do not fit in int64; the bandwidths are too "
                         "small for these features")
    stride = torch.tensor(strides, device=keys.device)
    image = torch.arange(batch, device=keys.device).view(batch, *([1] * (keys.dim() - 2)))
    return ((keys - low) * stride).sum(-1) + image * math.prod(spans), stride


def _opposite(below: Tensor) -> Tensor:
    """The neighbours above from those below (M+1 rows, M the zero row): i is above its neighbour below, so one
    scatter (no index twice) replaces a second search."""
    size = below.numel() - 1
    rows = torch.arange(size, device=below.device)
    found = below[:size] < size
    return torch.full_like(below, size).index_put_((below[:size][found],), rows[found])


def _find(sorted_codes: Tensor, codes: Tensor) -> Tensor:
    """The position of each code in ``sorted_codes`` and ``len(sorted_codes)`` where it is absent, with that
    sentinel appended for the zero row."""
    size = sorted_codes.numel()
    position = torch.searchsorted(sorted_codes, codes).clamp_(max=size - 1)
    found = torch.where(sorted_codes[position] == codes, position, size)
    return torch.cat([found, found.new_full((1,), size)])
