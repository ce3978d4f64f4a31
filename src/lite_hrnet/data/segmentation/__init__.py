"""Semantic segmentation data: the Cityscapes reader, HRNet's transforms and the
LightningDataModule."""
