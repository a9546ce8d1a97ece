"""seco: Separate and Conquer (SeCo, CVPR 2024) weakly supervised semantic segmentation."""

__version__ = "0.1.0"
