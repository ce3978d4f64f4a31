import pytest

from lite_hrnet.meta.flip_pairs import derive_flip_pairs, flip_table
from lite_hrnet.meta.keypoints import COCO, MPII


@pytest.mark.parametrize("preset", [COCO, MPII], ids=lambda s: s.name)
def test_derived_pairs_of_the_presets_are_their_own(preset):
    derived = {tuple(sorted(p)) for p in derive_flip_pairs(preset.joint_names)}
    assert derived == {tuple(sorted(p)) for p in preset.flip_pairs}


@pytest.mark.parametrize(
    ("names", "pairs"),
    [
        (["nose", "left_eye", "right_eye"], ((1, 2),)),
        (["l_wing", "tail", "r_wing"], ((0, 2),)),
        (["eyeR", "eyeL", "mouth"], ((1, 0),)),
        (["eye_L", "eye_R"], ((0, 1),)),
        (["LShoulder", "RShoulder"], ((0, 1),)),
        (["front_left_leg", "front_right_leg", "back_right_leg", "back_left_leg"],
         ((0, 1), (3, 2))),
        (["Left Hand", "Right Hand"], ((0, 1),)),
        (["tail", "lip", "ball"], ()),  # an "l" inside a word marks no side
    ],
)  # fmt: skip
def test_derived_pairs_of_the_usual_conventions(names, pairs):
    assert derive_flip_pairs(names) == pairs


def test_a_sided_name_without_partner_is_an_error_naming_it():
    with pytest.raises(ValueError, match=r"'left_handle'.*'right_handle'"):
        derive_flip_pairs(["left_handle", "lid"])


def test_an_ambiguous_derivation_is_an_error_naming_the_joints():
    # "l_r" mirrors to "r_r" (its first letter) or to "l_l" (its last): both exist.
    with pytest.raises(ValueError, match="could mirror several joints: 'l_r' \\('r_r' or 'l_l'\\)"):
        derive_flip_pairs(["l_r", "r_r", "l_l"])


def test_two_conventions_for_one_side_is_an_error():
    # left_eye pairs with right_eye; l_eye has no r_eye.
    with pytest.raises(ValueError, match="'l_eye' \\(no 'r_eye'\\)"):
        derive_flip_pairs(["left_eye", "l_eye", "right_eye"])


def test_flip_table_lists_each_pair():
    table = flip_table(["nose", "left_eye", "right_eye"], ((1, 2),), "set")
    assert table.splitlines() == ["set:", "    1 left_eye <->   2 right_eye"]
    assert flip_table(["nose"], (), "set") == "set: no flip pairs"
