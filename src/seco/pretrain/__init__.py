"""Pretraining a start for the synthetic benchmark: its loop, evaluation, settings and weights file."""
