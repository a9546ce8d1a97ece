"""The synthetic co-occurrence benchmark and the pretraining set: scenes drawn from shapes on contexts, written in
the VOC layout that :mod:`seco.data.readers` reads."""
