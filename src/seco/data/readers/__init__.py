"""Readers: a data set on disk (VOC, COCO, a folder with a label file) to a catalog of records."""
