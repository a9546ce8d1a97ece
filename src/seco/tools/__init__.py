"""User tools on a trained checkpoint: predict, explain, export-masks, submission, check-data."""
