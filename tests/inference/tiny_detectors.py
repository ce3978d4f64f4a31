"""Tiny ONNX files in the layout of mmdeploy's end2end detector exports: input ``input``
(1, 3, H, W) float32, outputs ``dets`` (1, N, 5) [x1, y1, x2, y2, score] in input pixels
and ``labels`` (1, N) int64, N a named (dynamic) axis."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from lite_hrnet.deploy.onnx import quiet_exporter


class ContentDetector(nn.Module):
    """Boxes and scores that depend on the pixels: a 4x4 average pool per channel mixed by
    fixed random weights. A swapped channel order, another normalisation, or the image
    placed or scaled differently in the input changes every box."""

    def __init__(self, input_size: tuple[int, int], pixel_scale: float, num: int = 8) -> None:
        super().__init__()
        self.input_size, self.pixel_scale, self.num = input_size, pixel_scale, num
        generator = torch.Generator().manual_seed(0)
        self.register_buffer("weight", torch.randn(48, num * 5, generator=generator) / 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = F.adaptive_avg_pool2d(x * self.pixel_scale, 4).flatten(1)
        logits = (features @ self.weight).view(1, self.num, 5)
        p = torch.sigmoid(logits * torch.tensor([1.0, 1.0, 1.0, 1.0, 4.0]))  # spread scores
        h, w = self.input_size
        cx, cy = p[..., 0] * w, p[..., 1] * h
        half_w, half_h = p[..., 2] * w / 4 + 1, p[..., 3] * h / 4 + 1
        boxes = [cx - half_w, cy - half_h, cx + half_w, cy + half_h, p[..., 4]]
        return torch.stack(boxes, dim=-1), torch.zeros_like(p[..., 4], dtype=torch.int64)


class FixedDetector(nn.Module):
    """The same ``dets`` (N, 5) and ``labels`` (N,) whatever the image."""

    def __init__(self, dets: list[list[float]], labels: list[int]) -> None:
        super().__init__()
        self.register_buffer("dets", torch.tensor(dets, dtype=torch.float32)[None])
        self.register_buffer("labels", torch.tensor(labels, dtype=torch.int64)[None])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.dets + 0 * x.mean(), self.labels + 0 * x.mean().long()


def export_detector(
    model: nn.Module,
    path: Path,
    input_size: tuple[int, int],
    output_names: tuple[str, ...] = ("dets", "labels"),
) -> Path:
    """``model`` as an end2end-style ONNX file at ``path``, input (1, 3, H, W)."""
    with quiet_exporter():
        torch.onnx.export(
            model.eval(),
            (torch.zeros(1, 3, *input_size),),
            str(path),
            input_names=["input"],
            output_names=list(output_names),
            dynamic_axes={name: {1: "num_dets"} for name in output_names},
            opset_version=17,
            dynamo=False,
        )
    return path
