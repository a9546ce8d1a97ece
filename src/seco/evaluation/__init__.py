"""Inference and evaluation: CAMs, pseudo masks and segmentation of a trained checkpoint, scored and reported."""
