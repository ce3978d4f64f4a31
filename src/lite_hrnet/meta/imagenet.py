"""The ImageNet channel statistics every Lite-HRNet input is normalised with (RGB, [0, 1])."""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
