"""Evaluation metrics (torchmetrics, DDP-synced): COCO keypoint AP, MPII PCKh, segmentation
IoU, and their printed tables. Predictions in, numbers out; no data loading."""
