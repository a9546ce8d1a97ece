"""The last ViT block for the class token alone.

Eq. 2 embeds a view by its class token only, q = O(g(x)): the patch tokens
that the last block outputs for a global view or a local patch are never
used. Their keys and values are (the class token attends to every token),
but their queries, attention rows, projections and MLPs are not: for the
demo's 4-block ViT that is about a fifth of a view's encoder work, forward
and backward. :func:`class_token_block` computes the last block's output for
the class token from the keys and values of all tokens, with the block's
own modules, so it equals ``block(x)[:, :1]`` within float rounding.
"""

from __future__ import annotations

import torch.nn.functional as F
from timm.layers.attention import Attention
from timm.models.vision_transformer import Block
from torch import Tensor, nn

__all__ = ["class_token_block", "class_token_block_applies"]


def class_token_block_applies(block: nn.Module) -> bool:
    """Whether :func:`class_token_block` reproduces ``block``: a plain timm ``Block`` with ``Attention``,
    and in training no dropout (which would draw other random numbers for fewer tokens; DropPath draws one
    per image either way)."""
    if type(block) is not Block or type(block.attn) is not Attention:
        return False
    return not block.training or all(m.p == 0 for m in block.modules() if isinstance(m, nn.Dropout))


def class_token_block(block: Block, x: Tensor) -> Tensor:
    """``block(x)[:, :1]`` for tokens ``x`` (B, N, D) whose first is the class token: (B, 1, D)."""
    attn = block.attn
    tokens = block.norm1(x)
    batch, count, _ = tokens.shape
    qkv = attn.qkv(tokens).reshape(batch, count, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
    query, key, value = qkv.unbind(0)
    query, key = attn.q_norm(query[:, :, :1]), attn.k_norm(key)
    mixed = F.scaled_dot_product_attention(query, key, value)  # timm's scale, head_dim ** -0.5
    mixed = attn.norm(mixed.transpose(1, 2).reshape(batch, 1, attn.attn_dim))
    if attn.gate is not None:
        mixed = mixed * attn.gate(tokens[:, :1]).sigmoid()
    cls = x[:, :1] + block.drop_path1(block.ls1(attn.proj_drop(attn.proj(mixed))))
    return cls + block.drop_path2(block.ls2(block.mlp(block.norm2(cls))))
