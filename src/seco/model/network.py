"""SeCoNet: the shared encoder with its four heads, and its local teacher."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seco.config import ModelConfig
from seco.model.backbone import ViTEncoder, build_encoder
from seco.model.heads import ClassifierHead, ProjectionHead, SegmentationHead

__all__ = ["NetOutput", "SeCoNet", "build_model", "teacher_embed"]


@dataclass
class NetOutput:
    """What one student forward pass yields.

    ``logits``/``aux_logits`` are (B, K); ``tokens``/``aux_tokens`` are token
    maps (B, D, h, w); ``cls`` is the class token (B, D) without gradient, the
    global teacher's Z of eq. 3 in backbone space; ``embedding`` is its
    projection (B, P) (with gradient only when asked for); ``seg`` is
    (B, K+1, h, w) when asked for; ``view_embeddings`` holds q (eq. 2) for each
    extra batch of views and ``view_cls`` their class tokens, without gradient.
    """

    logits: torch.Tensor
    aux_logits: torch.Tensor
    tokens: torch.Tensor
    aux_tokens: torch.Tensor
    cls: torch.Tensor
    embedding: torch.Tensor
    seg: torch.Tensor | None
    view_embeddings: list[torch.Tensor]
    view_cls: list[torch.Tensor]


class SeCoNet(nn.Module):
    """Encoder, classifier (final and aux), projection and segmentation heads.

    The student and the global teacher share this network (paper Sec. 3.4);
    the local teacher is an EMA copy of ``encoder`` + ``projector``.
    """

    def __init__(self, encoder: ViTEncoder, num_classes: int, proj_hidden: int, proj_dim: int,
                 seg_dilations: list[int]) -> None:
        super().__init__()
        dim = encoder.embed_dim
        self.num_classes = num_classes
        self.encoder = encoder
        self.classifier = ClassifierHead(dim, num_classes - 1)
        self.aux_classifier = ClassifierHead(dim, num_classes - 1)
        self.projector = ProjectionHead(dim, proj_hidden, proj_dim or dim)
        self.seg_head = SegmentationHead(dim, num_classes, seg_dilations)

    def forward(self, images: torch.Tensor, views: tuple[torch.Tensor, ...] = (), with_seg: bool = True,
                embedding_grad: bool = False, views_grad: bool = True) -> NetOutput:
        """One student pass over the images (RGB in [0, 1]) and any decomposed views.

        Everything that needs a gradient goes through this single call, so
        DistributedDataParallel sees one forward per backward; outputs that
        no loss uses are not computed (``with_seg=False``) or carry no
        gradient (``embedding`` unless ``embedding_grad``; the views' q unless
        ``views_grad``), so DDP never waits for gradients that cannot come.
        """
        out = self.encoder(images)
        with torch.set_grad_enabled(embedding_grad and torch.is_grad_enabled()):
            embedding = self.projector(out.cls)
        view_embeddings, view_cls = [], []
        with torch.set_grad_enabled(views_grad and torch.is_grad_enabled()):
            for view in views:
                cls = self.encoder.forward_cls(view)
                view_embeddings.append(self.projector(cls))
                view_cls.append(cls.detach())
        return NetOutput(
            logits=self.classifier(out.tokens),
            aux_logits=self.aux_classifier(out.aux_tokens),
            tokens=out.tokens,
            aux_tokens=out.aux_tokens,
            cls=out.cls.detach(),
            embedding=embedding,
            seg=self.seg_head(out.tokens) if with_seg else None,
            view_embeddings=view_embeddings,
            view_cls=view_cls,
        )

    def cams(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw final and auxiliary class maps (B, K, h, w) at token resolution (eq. 1 before its ReLU)."""
        out = self.encoder(images)
        return self.classifier.cam(out.tokens), self.aux_classifier.cam(out.aux_tokens)

    def segment(self, images: torch.Tensor) -> torch.Tensor:
        """Segmentation logits (B, K+1, h, w) at token resolution."""
        return self.seg_head(self.encoder(images).tokens)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Projected, L2-normalised class tokens q (eq. 2)."""
        return self.projector(self.encoder.forward_cls(images))

    def teacher_modules(self) -> nn.ModuleDict:
        """The modules the local teacher mirrors by EMA (g_k and O_k of eq. 2)."""
        return nn.ModuleDict({"encoder": self.encoder, "projector": self.projector})

    def param_groups(self, lr: float, head_lr_mult: float, weight_decay: float, decay_all: bool = True) -> list[dict]:
        """Backbone at ``lr``, heads at ``lr * head_lr_mult``.

        ``decay_all`` (``train.decay_all``, the public code): weight decay on
        every parameter; otherwise none on norms, biases, the position
        embedding and the class token.
        """
        groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
        for name, param in self.named_parameters():
            if not param.requires_grad:
                continue
            is_head = not name.startswith("encoder.")
            spared = param.ndim <= 1 or name.endswith(".bias") or "pos_embed" in name or "cls_token" in name
            no_decay = spared and not decay_all
            groups.setdefault((is_head, no_decay), []).append(param)
        return [
            {"params": params, "lr": lr * (head_lr_mult if is_head else 1.0),
             "weight_decay": 0.0 if no_decay else weight_decay}
            for (is_head, no_decay), params in sorted(groups.items())
        ]


def teacher_embed(teacher: nn.ModuleDict, images: torch.Tensor) -> torch.Tensor:
    """k = O_k(g_k(x)) of eq. 2, from the local teacher's modules."""
    return teacher["projector"](teacher["encoder"].forward_cls(images))


def build_model(cfg: ModelConfig, num_classes: int) -> SeCoNet:
    """Build :class:`SeCoNet` for ``num_classes`` classes (background included)."""
    if num_classes < 2:
        raise ValueError(f"need at least one foreground class, got num_classes={num_classes}")
    encoder = build_encoder(cfg.name, cfg.pretrained, cfg.weights, cfg.kwargs, cfg.conv_stem, cfg.aux_layer,
                            cfg.drop_path, cfg.freeze_pos_embed, cfg.pixel_mean, cfg.pixel_std,
                            weights_strict=cfg.weights_strict, weights_sha256=cfg.weights_sha256,
                            pos_embed_antialias=cfg.pos_embed_antialias)
    return SeCoNet(encoder, num_classes, cfg.proj_hidden, cfg.proj_dim, list(cfg.seg_dilations))


