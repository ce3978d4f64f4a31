"""Pure encodings shared by data, metrics, inference and tasks: heatmap targets and their
decoding (one ``HeatmapCodec``), box <-> (center, scale) and the crop affine, image
normalisation."""

from .heatmap_codec import HeatmapCodec

__all__ = ["HeatmapCodec"]
