"""Inference on plain ``nn.Module`` models (no Lightning, no DataModule): top-down pose
with the flip test, segmentation by whole image or sliding window, and drawing."""
