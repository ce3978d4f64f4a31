import numpy as np
import pytest

from lite_hrnet.codecs.geometry import box_to_center_scale
from lite_hrnet.data.pose.transforms import TopDownConfig, TopDownTransform
from lite_hrnet.meta.imagenet import IMAGENET_MEAN, IMAGENET_STD
from lite_hrnet.meta.keypoints import COCO


def _marked_image() -> tuple[np.ndarray, np.ndarray]:
    """A 640x480 image with a 25x25 square of value 10 * (j + 1) (red) at each joint j."""
    image = np.zeros((480, 640, 3), np.uint8)
    joints = np.array([[200 + 60 * (j % 5), 90 + 70 * (j // 5)] for j in range(17)], np.float32)
    for j, (x, y) in enumerate(joints.astype(int)):
        image[y - 12 : y + 13, x - 12 : x + 13, 0] = 10 * (j + 1)
    return image, joints


def _denormalize(chw: np.ndarray) -> np.ndarray:
    return (chw.transpose(1, 2, 0) * IMAGENET_STD + IMAGENET_MEAN) * 255


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("flip", [0.0, 1.0])
def test_targets_stay_on_their_joints(seed, flip):
    """Every visible joint's target peak lands on that joint's marker in the warped crop,
    through flip (with the left/right swap), scale and rotation jitter."""
    image, joints = _marked_image()
    cfg = TopDownConfig(
        input_size=(256, 192), flip_prob=flip, half_body_prob=0.0, rotation_prob=1.0
    )
    transform = TopDownTransform(cfg, COCO, train=True)
    center, scale = box_to_center_scale([170, 60, 300, 330], cfg.heatmap_codec().aspect_ratio)
    out = transform(image, joints, np.ones(17), center, scale, np.random.default_rng(seed))
    crop = _denormalize(out["image"])
    flip_index = COCO.flip_index() if flip else np.arange(17)
    checked = 0
    for j in range(17):
        if out["target"][j].max() < 1:  # invisible, or centred outside the crop
            continue
        y, x = np.unravel_index(out["target"][j].argmax(), out["target"][j].shape)
        py, px = min(int(y * 4 + 1.5), 255), min(int(x * 4 + 1.5), 191)
        assert round(crop[py, px, 0] / 10) == flip_index[j] + 1, f"joint {j}"
        checked += 1
    assert checked >= 8


def test_eval_transform_is_deterministic_and_sized():
    image, joints = _marked_image()
    cfg = TopDownConfig(input_size=(128, 96))
    transform = TopDownTransform(cfg, COCO, train=False)
    center, scale = box_to_center_scale([170, 60, 300, 330], cfg.heatmap_codec().aspect_ratio)
    a = transform(image, joints, np.ones(17), center, scale)
    b = transform(image, joints, np.ones(17), center, scale)
    assert a["image"].shape == (3, 128, 96) and a["target"].shape == (17, 32, 24)
    assert np.array_equal(a["image"], b["image"]) and a["rotation"] == 0
    assert np.array_equal(a["center"], center)


def test_photometric_changes_pixels_not_targets():
    image, joints = _marked_image()
    base = TopDownConfig(
        input_size=(128, 96), flip_prob=0, half_body_prob=0, scale_factor=0, rotation_prob=0
    )
    center, scale = box_to_center_scale([170, 60, 300, 330], base.heatmap_codec().aspect_ratio)
    plain = TopDownTransform(base, COCO, True)(
        image, joints, np.ones(17), center, scale, np.random.default_rng(0)
    )
    photo_cfg = TopDownConfig(**{**base.__dict__, "photometric": True})
    photo = TopDownTransform(photo_cfg, COCO, True)(
        image, joints, np.ones(17), center, scale, np.random.default_rng(0)
    )
    assert np.array_equal(plain["target"], photo["target"])
