"""Evaluation metrics: COCO keypoint AP, MPII PCKh, and their printing."""
