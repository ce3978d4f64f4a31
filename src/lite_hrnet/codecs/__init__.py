"""Pure encodings shared by data, metrics, inference and tasks: heatmap targets and their
decoding, box <-> (center, scale) and the crop affine, image normalisation."""
