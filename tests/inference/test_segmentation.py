"""Whole-image, sliding-window, multi-scale and flip inference."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lite_hrnet.inference.segmentation import segment_logits, segment_probabilities
from lite_hrnet.models.factory import create_segmentation_model
from lite_hrnet.testing.weights import randomize
from tests.support import TINY_BACKBONE


class PointwiseModel(nn.Module):
    """A stride-4 model whose every output cell sees only its own 4x4 input block.

    With no context across window borders, tiled windows must reproduce the whole image.
    """

    input_multiple = 32
    output_stride = 4

    def __init__(self, num_classes: int = 5) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, num_classes, kernel_size=4, stride=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)


@pytest.mark.parametrize(("window", "stride"), [((32, 64), None), ((32, 32), (32, 32))])
def test_sliding_equals_whole_when_windows_tile_exactly(window, stride) -> None:
    model = PointwiseModel().eval()
    images = torch.randn(2, 3, 64, 128)
    whole = segment_logits(model, images)
    slide = segment_logits(model, images, window=window, stride=stride)
    assert whole.shape == (2, 5, 64, 128)
    torch.testing.assert_close(slide, whole, rtol=0, atol=1e-6)


def test_overlapping_windows_average_to_the_same_for_a_pointwise_model() -> None:
    model = PointwiseModel().eval()
    images = torch.randn(1, 3, 64, 96)  # windows of 32x64 every 16x16 overlap and shift back
    whole = segment_logits(model, images)
    slide = segment_logits(model, images, window=(32, 64), stride=(16, 16))
    torch.testing.assert_close(slide, whole, rtol=0, atol=1e-5)


def test_lite_hrnet_single_window_equals_whole_image() -> None:
    model = randomize(create_segmentation_model("lite_hrnet_18", 19, **TINY_BACKBONE)).eval()
    images = torch.randn(1, 3, 64, 128)
    whole = segment_logits(model, images)
    torch.testing.assert_close(segment_logits(model, images, window=(64, 128)), whole)
    # Logits at input size are the upsampled stride-4 logits of the network.
    expected = F.interpolate(model(images), size=(64, 128), mode="bilinear", align_corners=False)
    torch.testing.assert_close(whole, expected)


def test_any_input_size_is_padded_and_cropped_back() -> None:
    model = PointwiseModel().eval()
    images = torch.randn(1, 3, 50, 70)
    assert segment_logits(model, images).shape == (1, 5, 50, 70)
    assert segment_logits(model, images, window=(32, 32), stride=(16, 16)).shape == (1, 5, 50, 70)


def test_multi_scale_and_flip_give_probabilities() -> None:
    model = randomize(create_segmentation_model("lite_hrnet_18", 19, **TINY_BACKBONE)).eval()
    images = torch.randn(1, 3, 64, 128)
    probs = segment_probabilities(model, images, scales=(0.5, 1.0, 1.5), flip=True)
    assert probs.shape == (1, 19, 64, 128)
    torch.testing.assert_close(probs.sum(1), torch.ones(1, 64, 128))
    single = segment_probabilities(model, images)
    torch.testing.assert_close(single, segment_logits(model, images).softmax(1))


def test_flip_test_of_a_mirror_symmetric_input_equals_plain() -> None:
    model = PointwiseModel().eval()
    half = torch.randn(1, 3, 64, 64)
    images = torch.cat([half, half.flip(-1)], dim=-1)
    flipped = segment_probabilities(model, images, flip=True)
    mirrored = segment_probabilities(model, images.flip(-1)).flip(-1)
    plain = segment_probabilities(model, images)
    torch.testing.assert_close(flipped, (plain + mirrored) / 2)


def test_bad_windows_are_rejected() -> None:
    model = PointwiseModel()
    with pytest.raises(ValueError, match="multiples of 32"):
        segment_logits(model, torch.randn(1, 3, 64, 64), window=(48, 64))
    with pytest.raises(ValueError, match="multiples of 4"):
        segment_logits(model, torch.randn(1, 3, 64, 64), window=(32, 32), stride=(10, 10))
    with pytest.raises(ValueError, match="scales"):
        segment_probabilities(model, torch.randn(1, 3, 64, 64), scales=(0.0,))
