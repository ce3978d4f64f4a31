"""Data-set facts: keypoint sets and flip pairs, the Cityscapes label table, the ImageNet
statistics."""
