"""The small layers: channel shuffle in both memory formats, interpolation as a module."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lite_hrnet.models.layers import Interpolate, channel_shuffle

FORMATS = [torch.contiguous_format, torch.channels_last]


def _shuffle_reference(x: torch.Tensor, groups: int) -> torch.Tensor:
    b, c, h, w = x.shape
    return x.reshape(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


@pytest.mark.parametrize("memory_format", FORMATS)
def test_channel_shuffle_keeps_the_memory_format(memory_format: torch.memory_format) -> None:
    x = torch.randn(2, 12, 5, 4).contiguous(memory_format=memory_format)
    out = channel_shuffle(x, 2)
    assert torch.equal(out, _shuffle_reference(x, 2))
    assert out.is_contiguous(memory_format=memory_format)


@pytest.mark.parametrize(("mode", "corners"), [("nearest", None), ("bilinear", True)])
def test_interpolate_module_is_f_interpolate(mode: str, corners: bool | None) -> None:
    x = torch.randn(2, 3, 4, 5)
    module = Interpolate(mode, align_corners=corners)
    expected = F.interpolate(x, size=(8, 10), mode=mode, align_corners=corners)
    assert torch.equal(module(x, (8, 10)), expected)
    assert not list(module.parameters()) and not module.state_dict()
    assert mode in repr(module)
