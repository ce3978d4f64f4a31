"""Inference: ``PoseEstimator`` and ``Segmenter`` (``estimator``, ``segmenter``) on any model
source (``sources``: a tag, our checkpoints, official files, packages, ONNX, modules), and
below them the plain functions on ``nn.Module`` models (no Lightning, no DataModule):
top-down pose with the flip test, segmentation by whole image or sliding window, drawing.
Checkpoints are read one way for them and the task modules (``checkpoints``). Video:
``PoseEstimator.video`` (``video_pose``) over ``frames``, ``tracking`` and ``smoothing``;
its run to files and windows in ``video_files``."""
