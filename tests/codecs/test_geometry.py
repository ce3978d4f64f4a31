import numpy as np
import pytest

from lite_hrnet.codecs.geometry import (
    apply_affine,
    box_to_center_scale,
    get_affine_transform,
    heatmap_to_image,
)
from lite_hrnet.data.pose.transforms import flip_joints, half_body_box
from lite_hrnet.meta.keypoints import COCO, MPII


def test_box_to_center_scale_grows_short_side_and_pads():
    center, scale = box_to_center_scale([10, 20, 60, 200], aspect_ratio=0.75)
    assert center.tolist() == [40, 120]
    # w grows to 0.75 * 200 = 150; both sides x1.25, in units of 200 pixels
    assert scale == pytest.approx([150 / 200 * 1.25, 200 / 200 * 1.25])


@pytest.mark.parametrize("rotation", [0.0, 30.0, -45.0])
def test_affine_forward_and_inverse(rotation):
    center, scale = np.array([300.0, 200.0]), np.array([1.2, 1.6])
    fwd = get_affine_transform(center, scale, rotation, (192, 256))
    inv = get_affine_transform(center, scale, rotation, (192, 256), inverse=True)
    pts = np.random.default_rng(0).uniform(0, 500, size=(10, 2))
    assert np.allclose(apply_affine(apply_affine(pts, fwd), inv), pts, atol=1e-3)
    # the center maps to the crop center and the box width to the crop width
    assert np.allclose(apply_affine(center[None], fwd), [[96, 128]], atol=1e-4)
    assert np.linalg.norm(fwd[:, :2] @ [1, 0]) == pytest.approx(192 / (1.2 * 200))


def test_heatmap_to_image_inverts_the_crop():
    center, scale = np.array([321.0, 210.0]), np.array([0.9, 1.2])
    pts = np.array([[100.0, 150.0], [320.0, 200.0]])
    on_heatmap = apply_affine(pts, get_affine_transform(center, scale, 0.0, (48, 64)))
    assert np.allclose(heatmap_to_image(on_heatmap, center, scale, (48, 64)), pts, atol=1e-3)


@pytest.mark.parametrize("keypoints", [COCO, MPII])
def test_flip_joints_swaps_pairs_and_mirrors(keypoints):
    rng = np.random.default_rng(1)
    k = keypoints.num_joints
    joints = rng.uniform(0, 600, (k, 2)).astype(np.float32)
    visible = np.ones(k, np.float32)
    visible[0] = 0
    joints[0] = 0
    flipped, vis = flip_joints(joints, visible, 640, keypoints)
    for a, b in keypoints.flip_pairs:
        assert flipped[a, 0] == pytest.approx(639 - joints[b, 0]) and flipped[a, 1] == joints[b, 1]
        assert vis[a] == visible[b]
    back, vis_back = flip_joints(flipped, vis, 640, keypoints)
    assert np.allclose(back, joints) and (vis_back == visible).all()


def test_half_body_picks_a_body_half_and_grows_it():
    joints = np.array([[100 + 5 * j, 50 + 20 * j] for j in range(17)], np.float32)
    visible = np.ones(17)

    class Coin:  # forces the branch: standard_normal() < 0.5 picks the upper body
        def __init__(self, value):
            self.value = value

        def standard_normal(self):
            return self.value

    center, scale = half_body_box(joints, visible, COCO, 0.75, Coin(0.0))
    upper = joints[list(COCO.upper_body_ids)]
    assert np.allclose(center, upper.mean(0))
    h = upper[:, 1].max() - upper[:, 1].min()
    assert scale[1] == pytest.approx(h / 200 * 1.5)
    center, _ = half_body_box(joints, visible, COCO, 0.75, Coin(1.0))
    assert np.allclose(center, joints[11:].mean(0))
    assert half_body_box(joints, np.zeros(17), COCO, 0.75, Coin(0.0)) is None
