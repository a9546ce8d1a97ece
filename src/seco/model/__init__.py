"""Model: a timm ViT encoder with an aux tap, and the SeCo heads."""

from seco.model.network import NetOutput, SeCoNet, build_model, teacher_embed

__all__ = ["NetOutput", "SeCoNet", "build_model", "teacher_embed"]
