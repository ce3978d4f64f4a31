"""``PoseEstimator``: from every kind of source, the keypoints today's predict path gives
(``PoseEstimationModule.predict_people``) on the same image and boxes; all crops of a call
in one forward pass; people as attributes and keys; boxes and scores of a detector; clear
errors."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import subprocess
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import lite_hrnet
from lite_hrnet.codecs.crops import boxes_to_centers_scales
from lite_hrnet.codecs.heatmap_codec import HeatmapCodec
from lite_hrnet.formats.images import ImageReadError
from lite_hrnet.inference.estimator import Person, PoseEstimator
from lite_hrnet.inference.pose import predict_people
from lite_hrnet.meta.keypoints import COCO, MPII
from lite_hrnet.models.hub import MIRROR_ENV
from lite_hrnet.models.variants import VARIANTS, PretrainedWeights
from lite_hrnet.tasks.pose import PoseEstimationModule
from lite_hrnet.testing.weights import randomize
from tests.support import TINY_BACKBONE

SIZE = (64, 32)  # (H, W): the crops, small
BOXES = np.array([[4, 6, 30, 50], [20, 0, 36, 72]], np.float32)


@pytest.fixture(scope="module")
def module() -> PoseEstimationModule:
    """A narrow lite_hrnet_18 with random weights, its codec at ``SIZE``."""
    codec = HeatmapCodec.from_input_hw(SIZE)
    built = PoseEstimationModule(backbone_overrides=TINY_BACKBONE, codec=codec)
    return randomize(built, seed=3).eval()


@pytest.fixture(scope="module")
def full_module() -> PoseEstimationModule:
    """lite_hrnet_18 itself (an official file's variant is matched by its tensors)."""
    codec = HeatmapCodec.from_input_hw(SIZE)
    return randomize(PoseEstimationModule(codec=codec), seed=3).eval()


@pytest.fixture(scope="module")
def files(
    module: PoseEstimationModule,
    full_module: PoseEstimationModule,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict:
    folder = tmp_path_factory.mktemp("pose_sources")
    ckpt = folder / "ours.ckpt"
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}, ckpt)
    official = folder / "official.pth"  # the official layout: backbone.*, keypoint_head.*
    torch.save({"state_dict": full_module.model.state_dict(), "meta": {"epoch": 210}}, official)
    folder_source = lite_hrnet.save_pretrained(
        module.model, folder / "saved", keypoint_set=module.keypoints, codec=module.codec
    )
    return {"ckpt": ckpt, "pth": official, "folder": folder_source}


def _image(seed: int = 0, shape: tuple[int, int] = (80, 60)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3), np.uint8)


def _reference(module: PoseEstimationModule, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Today's predict path: the module's ``predict_people`` on the boxes' crops."""
    centers, scales = boxes_to_centers_scales(boxes[:, :4], module.codec)
    return module.predict_people(image, centers, scales)


def _keypoints(people: list[Person]) -> np.ndarray:
    return np.stack([p.keypoints for p in people])


@pytest.mark.parametrize("kind", ["ckpt", "pth", "folder", "module"])
def test_every_source_predicts_what_the_predict_path_does(kind, module, full_module, files) -> None:
    source = module if kind == "module" else files[kind]
    module = full_module if kind == "pth" else module
    # An official file stores no codec: its input size is given, as --input does.
    options = {"input_size": SIZE} if kind == "pth" else {}
    est = PoseEstimator(source, **options)
    assert est.codec == module.codec and est.keypoint_set == COCO
    image = _image()
    expected = _reference(module, image, BOXES)
    got = est(image, BOXES)
    assert len(got) == 2
    np.testing.assert_allclose(_keypoints(got), expected, rtol=1e-5, atol=1e-4)


@pytest.fixture
def published(files: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A tag of lite_hrnet_18 at ``SIZE`` whose file (the official one of ``files``) a
    loopback server holds, the hub cache empty: the tag's full name."""
    served = tmp_path / "served"
    served.mkdir()
    data = files["pth"].read_bytes()
    name = f"tiny-{hashlib.sha256(data).hexdigest()[:8]}_20260101.pth"
    (served / name).write_bytes(data)
    handler = functools.partial(_QuietFiles, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    info = VARIANTS["lite_hrnet_18"]
    weights = PretrainedWeights(
        "test_tiny", f"https://example.invalid/{name}", "coco", SIZE, COCO.joint_names, "AP", 0.0
    )
    pretrained = (*info.pretrained, weights)
    monkeypatch.setitem(VARIANTS, "lite_hrnet_18", dataclasses.replace(info, pretrained=pretrained))
    monkeypatch.setenv(MIRROR_ENV, f"http://127.0.0.1:{httpd.server_address[1]}")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    yield "lite_hrnet_18.test_tiny"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_a_tag_downloads_and_predicts_at_its_input(published, full_module, capsys) -> None:
    est = PoseEstimator(published)
    assert est.codec == full_module.codec and est.source.variant == "lite_hrnet_18"
    assert est.source.path.name.startswith("tiny-") and est.source.path.is_file()
    image = _image(13)
    expected = _reference(full_module, image, BOXES)
    np.testing.assert_allclose(_keypoints(est(image, BOXES)), expected, rtol=1e-5, atol=1e-4)
    short = PoseEstimator("test_tiny", model="lite_hrnet_18")  # from the cache now
    assert short.source.path == est.source.path
    with pytest.raises(ValueError, match="trained at input 64x32, not 96x64"):
        PoseEstimator(published, input_size=(96, 64))


@pytest.mark.slow  # an ONNX export and session
def test_an_onnx_file_predicts_alike_alone_or_with_the_checkpoints_settings(
    module, files, tmp_path: Path
) -> None:
    from lite_hrnet.deploy import export_onnx

    onnx_file = export_onnx(module.model, tmp_path / "tiny.onnx", input_size=SIZE)
    image = _image(1)
    expected = _reference(module, image, BOXES)
    alone = PoseEstimator(onnx_file)  # 17 outputs: the COCO preset, the recipe's codec
    assert alone.keypoint_set == COCO and alone.codec == module.codec
    np.testing.assert_allclose(_keypoints(alone(image, BOXES)), expected, rtol=1e-4, atol=1e-3)
    runtime = PoseEstimator(files["ckpt"], onnx=onnx_file)
    np.testing.assert_allclose(_keypoints(runtime(image, BOXES)), expected, rtol=1e-4, atol=1e-3)
    for source, options in ((files["ckpt"], {"onnx": onnx_file}), (onnx_file, {})):
        with pytest.raises(ValueError, match=r"takes 64x32 images, the settings 96x64"):
            PoseEstimator(source, input_size=(96, 64), **options)


@pytest.mark.slow  # an OpenVINO export and compile
@pytest.mark.openvino
def test_an_openvino_ir_runs_with_the_checkpoints_settings(module, files, tmp_path: Path) -> None:
    from lite_hrnet.deploy import export_openvino

    ir = export_openvino(module.model, tmp_path / "tiny.xml", input_size=SIZE)
    image = _image(1)
    expected = _reference(module, image, BOXES)
    runtime = PoseEstimator(files["ckpt"], onnx=ir)
    assert runtime.network.precision == "f32"  # never the CPU plugin's bf16 default
    np.testing.assert_allclose(_keypoints(runtime(image, BOXES)), expected, rtol=1e-4, atol=1e-3)
    with pytest.raises(ValueError, match=r"takes 64x32 images, the settings 96x64"):
        PoseEstimator(files["ckpt"], input_size=(96, 64), onnx=ir)


@pytest.mark.slow  # the conftest's package (an AOTInductor compile, once per run)
def test_a_package_predicts_what_its_eager_model_does(tiny_pose_model, tiny_package) -> None:
    est = PoseEstimator(tiny_package)
    assert est.codec.input_hw == (64, 64) and est.keypoint_set == COCO
    image = _image(2, (90, 70))
    centers, scales = boxes_to_centers_scales(BOXES, est.codec)
    expected = predict_people(
        tiny_pose_model, image, centers, scales, est.codec, num_joints=17,
        flip_index=COCO.flip_index(),
    )  # fmt: skip
    np.testing.assert_allclose(_keypoints(est(image, BOXES)), expected, rtol=1e-4, atol=1e-3)
    with pytest.raises(ValueError, match="built for 64x64 inputs, not 96x64"):
        PoseEstimator(tiny_package, input_size=(96, 64))


def test_a_bfloat16_network_predicts_close_to_float32(module) -> None:
    est = PoseEstimator(module, dtype=torch.bfloat16, flip_test=False)
    image = _image(3)
    got = _keypoints(est(image, BOXES))
    expected = _keypoints(PoseEstimator(module, flip_test=False)(image, BOXES))
    assert got.shape == expected.shape and np.isfinite(got).all()
    # bfloat16 keeps 8 bits of mantissa: the peaks stay within a heatmap pixel or two.
    assert np.median(np.abs(got[..., :2] - expected[..., :2])) < 8


class CountingNetwork(torch.nn.Module):
    """Counts the forward passes of the network it wraps, and their batch sizes."""

    def __init__(self, network: torch.nn.Module) -> None:
        super().__init__()
        self.network = network
        self.batches: list[int] = []

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.batches.append(len(images))
        return self.network(images)


def test_a_list_of_images_runs_all_crops_in_one_forward_pass(module) -> None:
    est = PoseEstimator(module, flip_test=False)
    counter = CountingNetwork(module.model)
    est.network = counter
    images = [_image(4), _image(5, (50, 90)), _image(6)]
    boxes = [BOXES, BOXES[:1], np.zeros((0, 4))]
    results = est(images, boxes)
    assert counter.batches == [3]  # 2 + 1 + 0 people
    assert [len(people) for people in results] == [2, 1, 0]
    for image, image_boxes, people in zip(images, boxes, results):
        if len(image_boxes):
            np.testing.assert_allclose(
                _keypoints(people), _keypoints(est(image, image_boxes)), rtol=1e-5, atol=1e-4
            )
    counter.batches.clear()
    est.max_batch_size = 2
    est(images, boxes)
    assert counter.batches == [2, 1]


def test_people_read_as_attributes_and_keys(module) -> None:
    (person,) = PoseEstimator(module)(_image(7))  # no boxes, no detector: the whole image
    assert person["keypoints"] is person.keypoints and person.keypoints.shape == (17, 3)
    np.testing.assert_array_equal(person["box"], [0, 0, 60, 80])
    assert person["track_id"] is None and person.track_id is None
    assert list(person) == ["box", "score", "keypoints", "track_id"]
    assert dict(person)["score"] == person.score  # a mapping: keys() and []
    with pytest.raises(KeyError, match="a person has box, score"):
        person["nose"]


def test_a_detectors_boxes_and_scores_make_the_people(module) -> None:
    seen: list[tuple[int, ...]] = []

    def detector(image: np.ndarray) -> np.ndarray:
        seen.append(image.shape)
        return np.array([[4, 6, 30, 50, 0.5], [20, 0, 36, 72, 1.0]], np.float32)

    image = _image(8)
    people = PoseEstimator(module, detector=detector)(image)
    assert seen == [(80, 60, 3)]
    np.testing.assert_allclose(_keypoints(people), _reference(module, image, BOXES), atol=1e-4)
    for person, box_score in zip(people, (0.5, 1.0)):
        scores = person.keypoints[:, 2]
        mean = scores[scores > 0.2].mean() if (scores > 0.2).any() else 0.0
        assert person.score == pytest.approx(box_score * mean)
    # Given boxes win over the detector; boxes without a score: the keypoints' mean alone.
    (alone,) = PoseEstimator(module, detector=detector)(image, BOXES[:1])
    assert alone.score == pytest.approx(people[0].score / 0.5)
    assert len(seen) == 1


def test_a_detector_tag_loads_through_load_detector(module, monkeypatch) -> None:
    loaded: list[tuple[str, dict]] = []

    def load_detector(spec: str, **options):
        loaded.append((spec, options))
        return lambda image: np.array([[0, 0, 10, 20, 0.9]], np.float32)

    detection = types.ModuleType("lite_hrnet.inference.detection")
    detection.load_detector = load_detector
    monkeypatch.setitem(sys.modules, "lite_hrnet.inference.detection", detection)
    (person,) = PoseEstimator(module, detector="tiny")(_image(12))
    assert loaded == [("tiny", {})]
    np.testing.assert_array_equal(person.box, [0, 0, 10, 20])


def test_an_empty_detection_gives_no_people(module) -> None:
    est = PoseEstimator(module, detector=lambda image: np.zeros((0, 5), np.float32))
    assert est(_image(9)) == []
    assert est([_image(9), _image(10)]) == [[], []]


def test_images_as_files_and_their_errors(module, tmp_path: Path) -> None:
    image = _image(11)
    path = tmp_path / "person.png"
    cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    est = PoseEstimator(module)
    np.testing.assert_allclose(_keypoints(est(path, BOXES)), _keypoints(est(image, BOXES)))
    with pytest.raises(ImageReadError, match=r"missing\.png"):
        est(tmp_path / "missing.png")
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8 RGB"):
        est(image.astype(np.float32))
    with pytest.raises(ValueError, match=r"boxes: \(N, 4 or 5\)"):
        est(image, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="w, h > 0"):
        est(image, [[0, 0, 0, 10]])


def test_bad_sources_are_named(files, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"checkpoint not found: .*nothing\.ckpt"):
        PoseEstimator(tmp_path / "nothing.ckpt")
    with pytest.raises(FileNotFoundError, match=r"package not found: .*nothing\.pt2"):
        PoseEstimator(str(tmp_path / "nothing.pt2"))
    with pytest.raises(ValueError, match=r"name the variant, e\.g\. lite_hrnet_18\.coco_256x192"):
        PoseEstimator("coco_256x192")
    with pytest.raises(ValueError, match="lite_hrnet_18 has no published weights 'nothing'"):
        PoseEstimator("lite_hrnet_18.nothing")
    with pytest.raises(ValueError, match="trained at input 256x192, not 64x32"):
        PoseEstimator("lite_hrnet_18.coco_256x192", input_size=SIZE)
    with pytest.raises(ValueError, match="16-joint mpii head"):
        PoseEstimator("lite_hrnet_18.mpii_256x256", keypoint_set="coco")


def test_overrides_replace_what_the_checkpoint_stores(files) -> None:
    est = PoseEstimator(files["ckpt"], input_size=(96, 64), flip_test=False, dark=True)
    assert est.codec.input_hw == (96, 64) and est.codec.heatmap_hw == (24, 16)
    assert not est.codec.flip_test and est.codec.dark and est.flip_index is None
    # A plain state dict with another keypoint set's head: that set's recipe codec.
    mpii = PoseEstimator(randomize(lite_hrnet.create_pose_model("lite_hrnet_18", num_joints=16)))
    assert mpii.keypoint_set == MPII and mpii.codec.input_hw == (256, 256)


def test_the_package_exposes_the_classes_lazily() -> None:
    assert lite_hrnet.PoseEstimator is PoseEstimator
    assert "PoseEstimator" not in lite_hrnet.__all__  # `import *` stays within the core
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        lite_hrnet.Nothing  # noqa: B018


def test_without_opencv_the_classes_name_the_extra_to_install() -> None:
    code = (
        "import sys; sys.modules['cv2'] = None; import lite_hrnet\n"
        "try:\n    lite_hrnet.Segmenter\nexcept ImportError as e:\n    print(e)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "lite_hrnet.Segmenter needs OpenCV" in out.stdout
    assert "pip install 'lite-hrnet[infer]'" in out.stdout
