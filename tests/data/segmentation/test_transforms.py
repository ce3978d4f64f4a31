"""Augmentation keeps image and label aligned; evaluation keeps the label's size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lite_hrnet.data.segmentation.transforms import (
    SegmentationTransformConfig,
    build_eval_transform,
    build_train_transform,
)
from lite_hrnet.meta.cityscapes import IGNORE_INDEX
from lite_hrnet.meta.imagenet import IMAGENET_MEAN, IMAGENET_STD


def _blocky_scene(seed: int, size: tuple[int, int] = (96, 160)) -> tuple[np.ndarray, np.ndarray]:
    """An image whose red channel encodes the label (red = 20 * class), in 8-pixel blocks."""
    rng = np.random.default_rng(seed)
    h, w = size
    blocks = rng.integers(0, 10, size=(h // 8, w // 8)).astype(np.uint8)
    label = np.kron(blocks, np.ones((8, 8), np.uint8))
    image = np.zeros((h, w, 3), np.uint8)
    image[..., 0] = label * 20 + 10
    image[..., 1] = rng.integers(0, 255, size=(h, w))  # clutter in the other channels
    return image, label


def _red_channel(image: torch.Tensor) -> np.ndarray:
    """Undo the normalisation of (3, H, W) and return the red channel in 0..255."""
    return (image[0].numpy() * IMAGENET_STD[0] + IMAGENET_MEAN[0]) * 255


@pytest.mark.parametrize("seed", range(6))
def test_geometric_augmentation_keeps_the_label_on_its_pixels(seed: int) -> None:
    image, label = _blocky_scene(seed)
    transform = build_train_transform(
        SegmentationTransformConfig(
            input_size=[64, 96], scale_range=[0.5, 2.0], color_jitter=0.0, hue_jitter=0.0
        )
    )
    torch.manual_seed(seed)  # the pipeline is reseeded from torch's generator
    out_image, out_label = transform(image, label)
    assert out_image.shape == (3, 64, 96) and out_label.shape == (64, 96)
    assert out_label.dtype == torch.int64
    decoded = np.rint((_red_channel(out_image) - 10) / 20)
    lab = out_label.numpy()
    # Compare away from block edges, where bilinear image resizing blends neighbours.
    interior = np.zeros_like(lab, dtype=bool)
    interior[1:-1, 1:-1] = True
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            interior[1:-1, 1:-1] &= lab[1:-1, 1:-1] == lab[1 + dy : 63 + dy, 1 + dx : 95 + dx]
    valid = interior & (lab != IGNORE_INDEX)
    assert valid.sum() > 500
    np.testing.assert_array_equal(decoded[valid], lab[valid])


def test_augmentation_follows_torchs_seed() -> None:
    # albumentations seeds its own generator from the OS: the same torch seed must still
    # give the same crops, scales, flips and jitter, and another seed other ones.
    image, label = _blocky_scene(0)

    def draws(seed: int) -> list[torch.Tensor]:
        transform = build_train_transform(SegmentationTransformConfig(input_size=[64, 96]))
        torch.manual_seed(seed)
        return [transform(image, label)[0] for _ in range(4)]

    first, again, other = draws(1), draws(1), draws(2)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not any(torch.equal(a, b) for a, b in zip(first, other, strict=True))
    assert not torch.equal(first[0], first[1])  # each call draws anew


def test_scale_crop_and_flip_are_drawn_independently() -> None:
    # Labels of 8 column stripes (64 px) in 2 row bands: the output shows the flip (stripe
    # order), the scale (stripe width) and the crop's height (the band in its first
    # column). Seeding each step alike made these move together (|r| > 0.8).
    y, x = np.mgrid[0:256, 0:512]
    label = (x // 64 + 8 * (y // 128)).astype(np.uint8)
    transform = build_train_transform(SegmentationTransformConfig(input_size=[128, 256]))
    torch.manual_seed(0)
    flips, widths, bands = [], [], []
    for _ in range(200):
        out = transform(np.zeros((256, 512, 3), np.uint8), label)[1].numpy()
        row = out[0] % 8
        flips.append(float(row[0] > row[-1]))
        widths.append(256 / (np.count_nonzero(row[1:] != row[:-1]) + 1))
        bands.append(float((out[:, 0] // 8).mean()))
    r = np.corrcoef([flips, widths, bands])
    assert np.abs(r[np.triu_indices(3, 1)]).max() < 0.3, r


def test_padding_uses_ignore_for_labels_and_the_mean_for_images() -> None:
    image, label = _blocky_scene(0, size=(32, 48))
    transform = build_train_transform(
        SegmentationTransformConfig(
            input_size=[64, 96],
            scale_range=[1.0, 1.0],
            flip_prob=0.0,
            color_jitter=0.0,
            hue_jitter=0.0,
        )
    )
    out_image, out_label = transform(image, label)
    # The image sits at the top left; the rest is padding.
    assert (out_label[32:] == IGNORE_INDEX).all() and (out_label[:, 48:] == IGNORE_INDEX).all()
    assert out_image[:, 40:, 60:].abs().max() < 0.05  # mean colour = 0 after normalisation
    assert (out_label[:32, :48] != IGNORE_INDEX).all()


def test_photometric_jitter_leaves_the_label_alone() -> None:
    image, label = _blocky_scene(1, size=(64, 96))
    transform = build_train_transform(
        SegmentationTransformConfig(
            input_size=[64, 96], scale_range=[1.0, 1.0], flip_prob=0.0, jitter_prob=1.0
        )
    )
    out_image, out_label = transform(image, label)
    np.testing.assert_array_equal(out_label.numpy(), label)
    assert not np.allclose(_red_channel(out_image), image[..., 0], atol=1)


def test_eval_transform_resizes_only_the_image() -> None:
    image, label = _blocky_scene(2, size=(64, 128))
    out_image, out_label = build_eval_transform(base_size=(32, 64))(image, label)
    assert out_image.shape == (3, 32, 64)
    np.testing.assert_array_equal(out_label.numpy(), label)
    out_image, out_label = build_eval_transform()(image, label)
    assert out_image.shape == (3, 64, 128)
    np.testing.assert_allclose(_red_channel(out_image), image[..., 0], atol=0.01)


def test_invalid_sizes_are_rejected() -> None:
    with pytest.raises(ValueError, match="input_size"):
        build_train_transform(SegmentationTransformConfig(input_size=[64]))
    with pytest.raises(ValueError, match="scale_range"):
        build_train_transform(SegmentationTransformConfig(scale_range=[2.0, 1.0]))
    with pytest.raises(ValueError, match="base_size"):
        build_eval_transform(base_size=(0, 64))
