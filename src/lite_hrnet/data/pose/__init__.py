"""Top-down pose data: COCO and MPII readers, the official transforms, the dataset and the
LightningDataModules."""
