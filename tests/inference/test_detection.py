"""The person detector wrapper: box for box what rtmlib's own RTMDet and YOLOX classes give
on the same tiny end2end-layout ONNX file and a non-square image; the threshold, the
person class, max_people and min_box_size; files that are not detectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lite_hrnet.inference.detection import FAMILIES, PersonDetector, load_detector
from lite_hrnet.inference.detector_zoo import DETECTORS, list_detectors
from tests.inference.tiny_detectors import ContentDetector, FixedDetector, export_detector

INPUT = (64, 64)
# Raw 0..255 pixels for YOLOX, about -2..2 for RTMDet: the tiny network's weights see
# features of similar size either way.
PIXEL_SCALE = {"rtmdet": 1.0, "yolox": 1 / 64}


@pytest.fixture(scope="module")
def content_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("detectors")
    return {
        family: export_detector(
            ContentDetector(INPUT, PIXEL_SCALE[family]), folder / f"tiny_{family}.onnx", INPUT
        )
        for family in FAMILIES
    }


def _image(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    image[: h // 2, :, 0] //= 4  # unlike halves and channels: layout and order matter
    return image


def _rtmlib(family: str, path: Path):
    rtmlib = pytest.importorskip("rtmlib", reason="rtmlib is the reference (make install)")
    if family == "rtmdet":
        return rtmlib.RTMDet(str(path), model_input_size=INPUT, score_thr=0.3)
    return rtmlib.YOLOX(str(path), model_input_size=INPUT)


@pytest.mark.parametrize("family", list(FAMILIES))
@pytest.mark.parametrize("shape", [(45, 100), (130, 70), INPUT])
def test_boxes_and_scores_equal_rtmlibs(
    family: str, shape: tuple[int, int], content_files: dict[str, Path]
) -> None:
    path = content_files[family]
    image = _image(*shape)
    reference = _rtmlib(family, path)
    bgr = np.ascontiguousarray(image[..., ::-1])  # rtmlib reads BGR, as cv2.imread gives
    ref_boxes = reference(bgr)  # (M, 4) x1 y1 x2 y2, in the network's order
    # rtmlib returns no scores: the same network output, through its own preprocessing.
    ref_dets = reference.inference(reference.preprocess(bgr)[0])[0][0]
    ref_scores = ref_dets[ref_dets[:, 4] > 0.3, 4]
    assert 0 < len(ref_boxes) < len(ref_dets)  # the threshold drops some, keeps some

    boxes = load_detector(path, family=family)(image)

    order = np.argsort(-ref_scores, kind="stable")
    expected = np.concatenate([ref_boxes[order], ref_scores[order, None]], axis=1)
    expected[:, 2:4] -= expected[:, :2]
    assert boxes.dtype == np.float32 and boxes.shape == (len(ref_boxes), 5)
    np.testing.assert_array_equal(boxes, expected)
    # The check can fail: rtmlib given RGB instead of BGR finds other boxes.
    assert not np.array_equal(reference(np.ascontiguousarray(image)), ref_boxes)


def _fixed(tmp_path: Path, dets: list[list[float]], labels: list[int], **options):
    path = export_detector(FixedDetector(dets, labels), tmp_path / "fixed_rtmdet.onnx", INPUT)
    return load_detector(path, **options)


# Input 64x64; the image below is 128 x 256 (ratio 0.25), so boxes come out 4x larger.
DETS = [
    [0, 0, 10, 10, 0.5],
    [4, 4, 30, 40, 0.9],  # 104 x 144 in the image
    [1, 1, 2, 20, 0.95],  # 4 px wide in the image
    [5, 5, 25, 25, 0.3],  # at the threshold: dropped (rtmlib keeps score > threshold)
    [6, 6, 16, 16, 0.99],  # not a person (label 1)
    [9, 9, 9, 30, 0.8],  # no width: never a person's box
    [20, 20, 10, 30, 0.7],  # inverted
]
LABELS = [0, 0, 0, 0, 1, 0, 0]


def test_person_class_threshold_order_and_image_pixels(tmp_path: Path) -> None:
    boxes = _fixed(tmp_path, DETS, LABELS)(_image(128, 256))
    expected = [[4, 4, 4, 76, 0.95], [16, 16, 104, 144, 0.9], [0, 0, 40, 40, 0.5]]
    np.testing.assert_allclose(boxes, expected, rtol=1e-6)


@pytest.mark.parametrize(
    ("options", "scores"),
    [
        ({"score_threshold": 0.6}, [0.95, 0.9]),
        ({"max_people": 2}, [0.95, 0.9]),
        ({"min_box_size": 8.0}, [0.9, 0.5]),
        ({"min_box_size": 41.0}, [0.9]),
        ({"score_threshold": 0.0, "max_people": 10}, [0.95, 0.9, 0.5, 0.3]),
    ],
)
def test_options(tmp_path: Path, options: dict, scores: list[float]) -> None:
    boxes = _fixed(tmp_path, DETS, LABELS, **options)(_image(128, 256))
    np.testing.assert_allclose(boxes[:, 4], scores, rtol=1e-6)


def test_nothing_found_is_an_empty_0x5_array(tmp_path: Path) -> None:
    boxes = _fixed(tmp_path, DETS, LABELS, score_threshold=0.999)(_image(40, 30))
    assert boxes.shape == (0, 5) and boxes.dtype == np.float32


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"score_threshold": float("nan")}, "score_threshold"),
        ({"max_people": 0}, "max_people"),
        ({"max_people": 2.5}, "max_people"),
        ({"min_box_size": -1.0}, "min_box_size"),
        ({"device": "tpu"}, "device"),
        ({"family": "detr"}, "family"),
    ],
)
def test_bad_options_are_named(tmp_path: Path, options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _fixed(tmp_path, DETS, LABELS, **options)


def test_cuda_without_its_provider_says_what_to_install(tmp_path: Path) -> None:
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider")
    with pytest.raises(RuntimeError, match="onnxruntime-gpu"):
        _fixed(tmp_path, DETS, LABELS, device="cuda:0")


def test_bad_images_are_named(tmp_path: Path) -> None:
    detector = _fixed(tmp_path, DETS, LABELS)
    with pytest.raises(TypeError, match="uint8"):
        detector(np.zeros((8, 8, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        detector(np.zeros((8, 8), dtype=np.uint8))


def test_a_file_without_a_family_in_its_name_needs_one(tmp_path: Path) -> None:
    path = export_detector(FixedDetector(DETS, LABELS), tmp_path / "end2end.onnx", INPUT)
    with pytest.raises(ValueError, match=f"{path}: say which detector family"):
        load_detector(path)
    assert isinstance(load_detector(path, family="yolox"), PersonDetector)


def test_an_onnx_file_that_is_not_a_detector_is_named(tmp_path: Path) -> None:
    classifier = export_detector(
        FixedDetector(DETS, LABELS), tmp_path / "rtmdet_renamed.onnx", INPUT, ("scores", "ids")
    )
    with pytest.raises(ValueError, match=f"{classifier} is not an end2end detector export"):
        load_detector(classifier)
    garbage = tmp_path / "rtmdet_garbage.onnx"
    garbage.write_bytes(b"not a protobuf")
    with pytest.raises(ValueError, match=f"{garbage}: ONNX Runtime cannot load it"):
        load_detector(garbage)


def test_an_unknown_spec_lists_the_tags(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="rtmdet_nano") as error:
        load_detector("rtmdet_pico")
    assert "neither a published tag" in str(error.value)


def test_the_published_tags() -> None:
    assert list_detectors() == sorted(DETECTORS) and "rtmdet_nano" in DETECTORS
    for tag, entry in DETECTORS.items():
        assert entry.family in FAMILIES and entry.url.endswith(".zip"), tag
        assert entry.sha256_prefix is None, f"{tag}: a hash of the zip nobody published"
        assert entry.onnx_name == entry.file_name[: -len(".zip")] + ".onnx"


def test_a_pickled_detector_opens_its_own_session_and_finds_the_same_boxes(
    content_files: dict[str, Path],
) -> None:
    """As a DataLoader worker started by spawn or forkserver receives it."""
    import pickle

    detector = load_detector(content_files["rtmdet"], score_threshold=0.1, max_people=3)
    copy = pickle.loads(pickle.dumps(detector))
    assert copy.session is not detector.session
    assert copy.session.get_session_options().intra_op_num_threads == 1
    assert (copy.score_threshold, copy.max_people) == (0.1, 3)
    image = _image(90, 60)
    np.testing.assert_array_equal(copy(image), detector(image))
