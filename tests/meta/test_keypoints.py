import numpy as np
import pytest

from lite_hrnet import KeypointSet
from lite_hrnet.meta.keypoints import COCO, DEFAULT_OKS_SIGMA, MPII


def test_presets_keep_their_facts():
    assert COCO.num_joints == 17 and MPII.num_joints == 16
    assert COCO.has_flip_pairs and COCO.flip_index()[1] == 2
    assert np.allclose(COCO.oks_sigmas(), COCO.sigmas)


def test_a_set_without_sigmas_uses_the_default():
    kset = KeypointSet("tri", ("a", "b", "c"))
    assert kset.sigmas is None
    assert kset.oks_sigmas().tolist() == [DEFAULT_OKS_SIGMA] * 3
    assert not kset.has_flip_pairs
    assert kset.flip_index().tolist() == [0, 1, 2]


def test_round_trip_through_a_dict():
    kset = KeypointSet("tri", ["a", "b", "c"], [[0, 1]], [2], [[0, 2]], [0.1] * 3, [1, 1, 2])
    again = KeypointSet.from_dict(kset.to_dict())
    assert again == kset and again.flip_pairs == ((0, 1),)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"skeleton": [[0, 3]]}, "skeleton holds the pair \\[0, 3\\]"),
        ({"flip_pairs": [[0, 1], [1, 2]]}, "flip_pairs uses a joint in two pairs"),
        ({"sigmas": [0.1, 0.1]}, "sigmas has 2 values for 3 joints"),
        ({"joint_weights": [1, float("nan"), 1]}, "joint_weights must be finite"),
        ({"joint_names": ["a", "a", "b"]}, "joint_names repeats \\['a'\\]"),
        ({"upper_body_ids": [5]}, "upper_body_ids \\[5\\]"),
    ],
)
def test_fields_that_do_not_fit_the_joints_are_named(fields, message):
    with pytest.raises(ValueError, match=message):
        KeypointSet(**{"name": "tri", "joint_names": ["a", "b", "c"], **fields})
