"""The ViT's input tokens: patches, class/register tokens and a position embedding resized to each input.

timm's ViT resizes its position embedding to the token grid of each input
with an antialiased bicubic filter and offers no switch. The public SeCo code
resizes with plain bicubic interpolation (``align_corners=False``, no
antialias), which differs when the grid shrinks, e.g. a 64 px local patch
(4x4 tokens) against ViT-B's 14x14 embedding. :class:`TokenEmbed` takes over
the ViT's patch embedding, class and register tokens and position embedding
(same tensors, same arithmetic as timm's ``_pos_embed``) and resizes with or
without antialias. It is installed as ``vit.patch_embed`` with the ViT's own
``pos_embed``, ``cls_token`` and ``reg_token`` set to None, so timm's public
``forward_intermediates`` passes its tokens straight to the blocks.
"""

from __future__ import annotations

import torch
from timm.layers import resample_abs_pos_embed
from timm.models.vision_transformer import VisionTransformer
from torch import nn

__all__ = ["TokenEmbed", "install_token_embed", "timm_state_dict", "token_embed_key"]


class TokenEmbed(nn.Module):
    """Patch tokens plus position embedding, after the class and register tokens: (B, prefix + h*w, D).

    ``pos_embed`` keeps timm's layout, (1, prefix + H*W, D) or, for
    ``no_embed_class`` models, (1, H*W, D), for the native grid ``grid_size``.
    """

    def __init__(self, vit: VisionTransformer, antialias: bool = True) -> None:
        super().__init__()
        self.patches = vit.patch_embed
        self.cls_token = vit.cls_token
        self.reg_token = vit.reg_token
        self.pos_embed = vit.pos_embed
        self.pos_drop = vit.pos_drop
        self.no_embed_class: bool = vit.no_embed_class
        self.num_prefix_tokens: int = vit.num_prefix_tokens
        self.grid_size: tuple[int, int] = tuple(self.patches.grid_size)
        self.patch_size: tuple[int, int] = tuple(self.patches.patch_size)
        self.antialias = antialias

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.patches(images)  # (B, h, w, D): timm's patch embedding with dynamic_img_size
        batch, h, w, dim = x.shape
        x = x.reshape(batch, h * w, dim)
        prefix = [t.expand(batch, -1, -1) for t in (self.cls_token, self.reg_token) if t is not None]
        pos = self.resized_pos_embed((h, w))
        if pos is None:
            return self.pos_drop(torch.cat([*prefix, x], dim=1))
        if self.no_embed_class:
            return self.pos_drop(torch.cat([*prefix, x + pos], dim=1))
        return self.pos_drop(torch.cat([*prefix, x], dim=1) + pos)

    def resized_pos_embed(self, grid: tuple[int, int]) -> torch.Tensor | None:
        """The position embedding resized bicubically to ``grid`` (antialiased when ``antialias``)."""
        if self.pos_embed is None:
            return None
        return resample_abs_pos_embed(self.pos_embed, list(grid), list(self.grid_size),
                                      num_prefix_tokens=0 if self.no_embed_class else self.num_prefix_tokens,
                                      antialias=self.antialias)

    def dynamic_feat_size(self, img_size: tuple[int, int]) -> tuple[int, int]:
        """The token grid of an image of ``img_size`` (timm's ``forward_intermediates`` asks for it)."""
        return self.patches.dynamic_feat_size(img_size)


def install_token_embed(vit: VisionTransformer, antialias: bool = True) -> TokenEmbed:
    """Move ``vit``'s patch embedding, tokens and position embedding into a :class:`TokenEmbed`."""
    tokens = TokenEmbed(vit, antialias)
    vit.patch_embed = tokens
    vit.pos_embed = None
    vit.cls_token = None
    vit.reg_token = None
    return tokens


_MOVED = {"patch_embed.cls_token": "cls_token", "patch_embed.reg_token": "reg_token",
          "patch_embed.pos_embed": "pos_embed"}
_RETURNED = {timm: ours for ours, timm in _MOVED.items()}
_PATCHES = "patch_embed.patches."


def timm_state_dict(vit: VisionTransformer) -> dict[str, torch.Tensor]:
    """``vit``'s state dict in timm's own layout, as if no :class:`TokenEmbed` were installed.

    The keys a weights file carries (``cls_token``, ``pos_embed``, ``patch_embed.proj.*``)
    so that it loads into a freshly built timm ViT, as ``model.weights`` does.
    """
    state = {}
    for key, tensor in vit.state_dict().items():
        if key.startswith(_PATCHES):
            key = "patch_embed." + key[len(_PATCHES):]
        state[_MOVED.get(key, key)] = tensor
    return state


def token_embed_key(key: str) -> str:
    """The key of a timm-layout tensor once :class:`TokenEmbed` is installed (inverse of :func:`timm_state_dict`)."""
    if key in _RETURNED:
        return _RETURNED[key]
    return _PATCHES + key[len("patch_embed."):] if key.startswith("patch_embed.") else key
