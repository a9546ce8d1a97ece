"""The ViT encoder: any timm VisionTransformer with an auxiliary tap.

The encoder returns the final tokens (after the final norm) and the tokens of
an intermediate block (``aux_layer``, by default L-3, i.e. block 10 of 12 for
ViT-B, before the final norm) as used for the auxiliary CAM of eq. 1, through
timm's public ``forward_intermediates``. The position embedding is resized
bicubically to each input's token grid (with or without antialias, see
:mod:`seco.model.token_embed`) and may be frozen as in the official setting.
Weights come from a local file or timm's hub files, loaded completely or not
at all (:mod:`seco.model.weights`, :mod:`seco.model.hub`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import timm
import torch
import torch.nn.functional as F
from timm.layers import PatchEmbed
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from seco.config import ConfigError
from seco.config.projection import encoder_width
from seco.model.class_token import class_token_block, class_token_block_applies
from seco.model.hub import pretrained_file
from seco.model.token_embed import TokenEmbed, install_token_embed
from seco.model.weights import LoadedWeights, load_backbone_weights

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "ConvStemPatchEmbed", "EncoderOutput", "ViTEncoder", "build_encoder",
           "encoder_width"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ConvStemPatchEmbed(PatchEmbed):
    """Patch embedding by a small stride-2 conv stack instead of one big conv.

    A ViT trained from scratch on a CPU in minutes lacks the locality prior
    that pretraining gives it; a convolutional stem restores it cheaply
    (see shared/reference/cpu-calibration.md). ``patch_size`` must be a power
    of two: one stride-2 conv per factor of two, the last one to ``embed_dim``.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        stride = self.patch_size[0]
        if stride != self.patch_size[1] or stride < 2 or stride & (stride - 1):
            raise ValueError(f"conv stem needs a square power-of-two patch size, got {self.patch_size}")
        in_chans = self.proj.in_channels
        embed_dim = self.proj.out_channels
        layers: list[nn.Module] = []
        width = max(embed_dim // 4, 16)
        channels = in_chans
        while stride > 2:
            layers += [nn.Conv2d(channels, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width), nn.GELU()]
            channels, width, stride = width, min(width * 2, embed_dim), stride // 2
        layers.append(nn.Conv2d(channels, embed_dim, 3, 2, 1))
        self.proj = nn.Sequential(*layers)


@dataclass
class EncoderOutput:
    """Tokens of one forward pass; maps are (B, D, h, w), ``cls`` is (B, D)."""

    tokens: torch.Tensor
    aux_tokens: torch.Tensor
    cls: torch.Tensor


class ViTEncoder(nn.Module):
    """A timm ViT that also exposes the token map of block ``aux_layer``.

    It takes RGB images in [0, 1] and normalises them with ``pixel_mean`` and
    ``pixel_std`` (buffers, not saved in ``state_dict``: the config holds them),
    as segment-anything's model does, so no caller needs to know them.
    ``vit.patch_embed`` is a :class:`TokenEmbed` holding the patch embedding,
    the class token and the position embedding. ``weights`` records the file
    the backbone started from (None when it started from random).
    """

    pixel_mean: torch.Tensor
    pixel_std: torch.Tensor

    def __init__(self, vit: VisionTransformer, aux_layer: int = -3, pixel_mean: Sequence[float] = IMAGENET_MEAN,
                 pixel_std: Sequence[float] = IMAGENET_STD) -> None:
        super().__init__()
        if not isinstance(vit.patch_embed, TokenEmbed):
            raise TypeError("ViTEncoder needs a ViT prepared by install_token_embed (see build_encoder)")
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std).view(1, 3, 1, 1), persistent=False)
        depth = len(vit.blocks)
        index = aux_layer % depth
        if not -depth <= aux_layer < depth or index == depth - 1:
            raise ValueError(f"aux_layer {aux_layer} must name a block before the last of {depth}")
        self.vit = vit
        self.aux_index = index
        self.embed_dim: int = vit.embed_dim
        self.patch_size: int = vit.patch_embed.patch_size[0]
        self.weights: LoadedWeights | None = None

    def forward(self, images: torch.Tensor) -> EncoderOutput:
        """Encode RGB images in [0, 1] of any size.

        A side that is not a multiple of the patch size is stretched up to
        the next multiple (bilinear), so the token grid still covers exactly
        the whole image and token maps upsample back onto it without shift.
        """
        final, (aux,) = self.vit.forward_intermediates(self._prepared(images), indices=[self.aux_index], norm=False,
                                                       output_fmt="NCHW")
        patches = final[:, self.vit.num_prefix_tokens:]
        tokens = patches.transpose(1, 2).reshape(patches.shape[0], patches.shape[2], *aux.shape[-2:])
        return EncoderOutput(tokens=tokens, aux_tokens=aux, cls=final[:, 0])

    def forward_cls(self, images: torch.Tensor) -> torch.Tensor:
        """The final class token (B, D) alone, as ``forward(images).cls`` within float rounding.

        For views embedded by their class token only (eq. 2): the last block
        runs for the class token alone (:func:`~seco.model.class_token.class_token_block`),
        the blocks before it, the embedding and the final norm as in timm's
        ``forward_intermediates``. A last block it cannot reproduce runs whole.
        """
        vit = self.vit
        last = vit.blocks[-1]
        if not class_token_block_applies(last):
            return self.forward(images).cls
        tokens = vit.norm_pre(vit.patch_drop(vit._pos_embed(vit.patch_embed(self._prepared(images)))))
        for block in vit.blocks[:-1]:
            tokens = block(tokens)
        return vit.norm(class_token_block(last, tokens))[:, 0]

    def compile(self, *args: Any, **kwargs: Any) -> None:
        """``torch.compile`` :meth:`forward` (as ``nn.Module.compile``) and :meth:`forward_cls` too."""
        super().compile(*args, **kwargs)
        self.forward_cls = torch.compile(self.forward_cls, *args, **kwargs)  # type: ignore[method-assign]

    def _prepared(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised images, stretched to whole patches."""
        images = (images - self.pixel_mean.to(images.dtype)) / self.pixel_std.to(images.dtype)
        height, width = images.shape[-2:]
        size = (-(-height // self.patch_size) * self.patch_size, -(-width // self.patch_size) * self.patch_size)
        if size != (height, width):
            images = F.interpolate(images, size=size, mode="bilinear", align_corners=False)
        return images


def build_encoder(
    name: str,
    pretrained: bool = False,
    weights: str = "",
    kwargs: dict | None = None,
    conv_stem: bool = False,
    aux_layer: int = -3,
    drop_path: float = 0.0,
    freeze_pos_embed: bool = True,
    pixel_mean: Sequence[float] = IMAGENET_MEAN,
    pixel_std: Sequence[float] = IMAGENET_STD,
    weights_strict: bool = True,
    weights_sha256: str = "",
    pos_embed_antialias: bool = True,
) -> ViTEncoder:
    """Create a timm ViT by name and wrap it as a :class:`ViTEncoder`.

    Weights come from ``weights`` (a local file or ``seco:NAME``; it wins), or
    from timm's Hugging Face files when ``pretrained`` (local cache first, the
    network only when the hub answers). Either way every encoder tensor must
    load (``weights_strict``) and the file must match ``weights_sha256`` when
    that is set. ``pos_embed_antialias`` picks the position-embedding resize.
    """
    options = dict(kwargs or {})
    options.update(num_classes=0, dynamic_img_size=True, drop_path_rate=drop_path)
    if conv_stem:
        options["embed_layer"] = ConvStemPatchEmbed
    try:
        vit = timm.create_model(name, pretrained=False, **options)
    except RuntimeError as err:
        if "Unknown model" in str(err):
            raise ConfigError(f"model.name: {err}; timm.list_models('vit_*') lists the ViTs") from None
        raise
    except TypeError as err:  # a keyword the ViT does not take
        raise ConfigError(f"model.kwargs: {name!r} refuses them: {err}") from None
    if type(vit) is not VisionTransformer:
        raise ConfigError(f"model.name: {name!r} builds a timm {type(vit).__name__}, not a VisionTransformer")
    source = weights or (pretrained_file(vit, name) if pretrained else None)
    loaded = None
    if source:
        loaded = load_backbone_weights(vit, source, weights_strict, weights_sha256, pos_embed_antialias)
    tokens = install_token_embed(vit, pos_embed_antialias)
    if freeze_pos_embed and tokens.pos_embed is not None:
        tokens.pos_embed.requires_grad_(False)
    encoder = ViTEncoder(vit, aux_layer, pixel_mean, pixel_std)
    encoder.weights = loaded
    return encoder
