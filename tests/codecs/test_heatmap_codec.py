"""``HeatmapCodec``: the recipe's sizes, encoding and decoding through the exact functions,
and its plain-dict form."""

import json

import numpy as np
import pytest

from lite_hrnet.codecs import HeatmapCodec
from lite_hrnet.codecs.geometry import heatmap_to_image
from lite_hrnet.codecs.heatmap import decode_heatmaps, encode_heatmaps


@pytest.mark.parametrize(
    ("input_hw", "heatmap_hw", "sigma"),
    [((256, 192), (64, 48), 2.0), ((384, 288), (96, 72), 3.0), ((256, 256), (64, 64), 2.0)],
)
def test_the_recipe_follows_the_input(input_hw, heatmap_hw, sigma) -> None:
    codec = HeatmapCodec.from_input_hw(input_hw)
    assert codec.input_size == input_hw[::-1] and codec.heatmap_size == heatmap_hw[::-1]
    assert codec.input_hw == input_hw and codec.heatmap_hw == heatmap_hw
    assert codec.sigma == sigma and codec.aspect_ratio == input_hw[1] / input_hw[0]
    assert codec.flip_test and codec.shift_heatmap and not codec.dark


def test_encode_and_decode_are_the_exact_functions() -> None:
    codec = HeatmapCodec.from_input_hw((256, 192), dark=True)
    joints = np.array([[41.0, 97.0], [150.3, 20.6], [-50.0, 10.0]], np.float32)
    visible = np.array([1, 1, 1])
    target, weight = codec.encode(joints, visible)
    expected = encode_heatmaps(joints, visible, (192, 256), (48, 64), 2.0)
    assert np.array_equal(target, expected[0]) and np.array_equal(weight, expected[1])
    assert weight.tolist() == [1, 1, 0]
    heatmaps = target[None]
    coords, scores = codec.decode(heatmaps)
    dark = decode_heatmaps(heatmaps, dark=True)
    assert np.array_equal(coords, dark[0]) and np.array_equal(scores, dark[1])
    # In image pixels: the inverse crop of a box 2x the input, centred at (300, 400).
    center, scale = np.array([[300.0, 400.0]]), np.array([[1.92, 2.56]])
    keypoints = codec.decode_to_image(heatmaps, center, scale)
    assert keypoints.shape == (1, 3, 3)
    np.testing.assert_allclose(
        keypoints[0, :, :2], heatmap_to_image(coords[0], center[0], scale[0], (48, 64))
    )
    # Joint 0 at (41, 97) of the input comes back near (300 - 192 + 82, 400 - 256 + 194).
    np.testing.assert_allclose(keypoints[0, 0, :2], [190, 338], atol=4)


def test_the_dict_form_round_trips_through_json() -> None:
    codec = HeatmapCodec.from_input_hw((128, 96), sigma=1.5, flip_test=False, dark=True)
    data = json.loads(json.dumps(codec.to_dict()))
    assert HeatmapCodec.from_dict(data) == codec
    with pytest.raises(ValueError, match=r"unknown HeatmapCodec field\(s\) \['stride'\]"):
        HeatmapCodec.from_dict({**data, "stride": 4})


def test_another_input_size_keeps_the_decoding() -> None:
    codec = HeatmapCodec.from_input_hw((256, 192), flip_test=False, dark=True)
    bigger = codec.with_input_hw((384, 288))
    assert bigger == HeatmapCodec.from_input_hw((384, 288), flip_test=False, dark=True)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"sigma": 0}, "sigma: must be positive"),
        ({"input_size": (0, 64)}, "input_size"),
        ({"dark_kernel": 4}, "dark_kernel"),
    ],
)
def test_bad_values_name_the_field(fields, message) -> None:
    good = HeatmapCodec.from_input_hw((64, 64)).to_dict()
    with pytest.raises(ValueError, match=message):
        HeatmapCodec.from_dict({**good, **fields})
