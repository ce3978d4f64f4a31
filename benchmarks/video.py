"""The video pipeline's stages on a generated 640x480 clip: decode, track, smooth, draw +
encode, in milliseconds per frame; the One-Euro filter's error against a known path for a
grid of its two settings; and, with ``--pose``, the networks: the pose model per frame
(``PoseEstimator.predict_image`` at the people's boxes) in eager PyTorch, ONNX Runtime and
an AOTInductor package given by ``--package``, and a person detector ONNX file given by
``--detector``, for 1, 3 and 6 people.

    python -m benchmarks.video                     # 120 frames, 4 people, 5 rounds
    python -m benchmarks.video --frames 60 --people 2 --rounds 3 --json out.json
    python -m benchmarks.video --pose lite_hrnet_18 --pose-frames 10 --detector rtmdet.onnx

The clip: the synthetic data sets' figures (``lite_hrnet.synthetic.figures``) walking over a
smooth background, written once as mp4 (``inference.frames.VideoWriter``) into a temporary
folder. Each stage runs over the whole clip once per round, the stages taking turns within a
round, after one untimed round; a figure is the median over rounds. Tracking and smoothing
get the true keypoints with 2 px of noise (what a pose model would hand them).

The networks (``--pose``): random weights (the time does not depend on them) at 256x192,
the flip test on (the recipe's), the crops at the true boxes; the runtimes take turns
within a round, so that their ratios are paired. A package is not built here (an
AOTInductor compile takes minutes): pass one made by ``lite-hrnet export --format pt2``.
The detector row needs a real detector file; none is timed without one.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from lite_hrnet.inference.drawing import draw_skeletons
from lite_hrnet.inference.frames import VideoWriter, open_frames
from lite_hrnet.inference.smoothing import KeypointSmoother, OneEuroFilter
from lite_hrnet.inference.tracking import Tracker, boxes_from_keypoints
from lite_hrnet.meta.keypoints import COCO
from lite_hrnet.synthetic.figures import Shape, draw_shape, sample_figure

SIZE = (640, 480)  # (W, H)
FPS = 30.0


def make_clip(frames: int, people: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Frames (T, 480, 640, 3) uint8 RGB of ``people`` walking across, and their true COCO
    keypoints (T, P, 17, 3) [x, y, 1]."""
    rng = np.random.default_rng(seed)
    w, h = SIZE
    background = cv2.resize(rng.uniform(40, 215, (4, 5, 3)), SIZE, interpolation=cv2.INTER_CUBIC)
    starts = rng.uniform([0.1 * w, 0.5 * h], [0.9 * w, 0.7 * h], (people, 2))
    steps = rng.uniform([-3, -0.5], [3, 0.5], (people, 2))  # pixels per frame
    figures = [sample_figure(rng, start, float(rng.uniform(150, 250))) for start in starts]
    images = np.empty((frames, h, w, 3), np.uint8)
    keypoints = np.ones((frames, people, 17, 3))
    for t in range(frames):
        image = background.copy()
        for p, (fig, step) in enumerate(zip(figures, steps)):
            shift = step * t
            for shape in fig.shapes:
                draw_shape(
                    image, Shape(shape.points + shift, shape.width, shape.color), shape.color
                )
            keypoints[t, p, :, :2] = fig.coco + shift
        images[t] = np.clip(image, 0, 255)
    return images, keypoints


def _per_frame_ms(stage: Callable[[], int]) -> float:
    start = time.perf_counter()
    count = stage()
    return (time.perf_counter() - start) * 1000 / count


def time_stages(frames: int = 120, people: int = 4, rounds: int = 5) -> dict:
    """Median milliseconds per frame of each stage (see the module's docstring)."""
    clip, truth = make_clip(frames, people)
    noisy = truth.copy()
    noisy[..., :2] += np.random.default_rng(1).normal(0, 2.0, truth[..., :2].shape)
    boxes = np.stack([boxes_from_keypoints(k, SIZE) for k in noisy])
    with tempfile.TemporaryDirectory() as folder:
        video = Path(folder) / "clip.mp4"
        with VideoWriter(video, FPS, SIZE) as writer:
            for image in clip:
                writer.write(image)

        def decode() -> int:
            return sum(1 for _ in open_frames(video))

        def track() -> int:
            tracker = Tracker(sigmas=COCO.oks_sigmas())
            for b, k in zip(boxes, noisy):
                tracker.update(b, k)
            return len(boxes)

        def smooth() -> int:
            smoother = KeypointSmoother()
            for t, k in enumerate(noisy):
                smoother.update(k, range(1, people + 1), t / FPS)
            return len(noisy)

        def draw_and_encode() -> int:
            with VideoWriter(Path(folder) / "drawn.mp4", FPS, SIZE) as writer:
                for image, k in zip(clip, noisy):
                    writer.write(draw_skeletons(image, k, COCO))
            return len(clip)

        stages = {
            "decode": decode,
            "track": track,
            "smooth": smooth,
            "draw + encode": draw_and_encode,
        }
        for stage in stages.values():  # warm-up
            stage()
        times: dict[str, list[float]] = {name: [] for name in stages}
        for _ in range(rounds):
            for name, stage in stages.items():
                times[name].append(_per_frame_ms(stage))
    return {
        "ms_per_frame": {name: statistics.median(t) for name, t in times.items()},
        "frames": frames,
        "people": people,
        "rounds": rounds,
        "size": f"{SIZE[0]}x{SIZE[1]}",
        "cpu": platform.processor() or platform.machine(),
        "opencv_threads": cv2.getNumThreads(),
    }


def time_networks(
    variant: str = "lite_hrnet_18",
    people: tuple[int, ...] = (1, 3, 6),
    frames: int = 10,
    rounds: int = 3,
    threads: int = 2,
    detector: Path | None = None,
    package: Path | None = None,
) -> dict:
    """Median milliseconds per frame of the pose model in each runtime (and the detector)
    for each number of people (see the module's docstring)."""
    import torch

    from lite_hrnet import create_pose_model
    from lite_hrnet.deploy import export_onnx
    from lite_hrnet.inference.estimator import PoseEstimator

    torch.set_num_threads(threads)
    network = create_pose_model(variant).eval()
    with tempfile.TemporaryDirectory() as folder:
        onnx_file = export_onnx(network, Path(folder) / f"{variant}.onnx", input_size=(256, 192))
        runtimes: dict[str, Callable[[np.ndarray, np.ndarray], object]] = {
            "eager": PoseEstimator(network).predict_image,
            "onnx runtime": PoseEstimator(onnx_file).predict_image,
        }
        if package is not None:
            runtimes["package"] = PoseEstimator(package).predict_image
        if detector is not None:
            from lite_hrnet.inference.detection import load_detector

            find = load_detector(detector, threads=threads)
            runtimes[f"detector {detector.name}"] = lambda image, boxes: find(image)
        table: dict[str, dict[int, float]] = {name: {} for name in runtimes}
        for count in people:
            clip, truth = make_clip(frames, count)
            boxes = [boxes_from_keypoints(k, SIZE) for k in truth]
            for run in runtimes.values():  # warm-up
                run(clip[0], boxes[0])
            times: dict[str, list[float]] = {name: [] for name in runtimes}
            for _ in range(rounds):
                for name, run in runtimes.items():

                    def stage(run=run, clip=clip, boxes=boxes) -> int:
                        for image, b in zip(clip, boxes):
                            run(image, b)
                        return len(clip)

                    times[name].append(_per_frame_ms(stage))
            for name, t in times.items():
                table[name][count] = statistics.median(t)
    return {
        "ms_per_frame": table,
        "variant": variant,
        "input": "256x192",
        "frames": frames,
        "rounds": rounds,
        "threads": threads,
        "cpu": platform.processor() or platform.machine(),
    }


def smoothing_error(
    min_cutoffs: tuple[float, ...] = (0.5, 1.0, 2.0),
    betas: tuple[float, ...] = (0.01, 0.03, 0.05, 0.1),
    noise: float = 2.0,
    seconds: float = 10.0,
) -> dict:
    """RMS error (px) against the truth of one joint with ``noise`` px of Gaussian noise at
    30 frames per second, raw and One-Euro filtered, after the first second: standing,
    walking at 100 px/s with a 10 px sway, and moving fast (to 250 px/s)."""
    t = np.arange(0, seconds, 1 / FPS)
    paths = {
        "standing": np.stack([300 + 0 * t, 200 + 0 * t], -1),
        "walking": np.stack(
            [100 + 100 * t + 10 * np.sin(2 * np.pi * t), 200 + 5 * np.sin(4 * np.pi * t)], -1
        ),
        "fast": np.stack(
            [
                300 + 60 * np.sin(0.6 * np.pi * t) + 15 * np.sin(3 * np.pi * t),
                200 + 30 * np.cos(np.pi * t),
            ],
            -1,
        ),
    }
    rng = np.random.default_rng(0)
    settled = t >= 1.0
    result: dict = {}
    for name, truth in paths.items():
        noisy = truth + rng.normal(0, noise, truth.shape)

        def rms(values: np.ndarray, truth: np.ndarray = truth) -> float:
            return float(np.sqrt(((values - truth)[settled] ** 2).sum(-1).mean()))

        rows = {"raw": rms(noisy)}
        for min_cutoff in min_cutoffs:
            for beta in betas:
                f = OneEuroFilter(min_cutoff, beta)
                out = np.stack([f(p[None], s)[0] for p, s in zip(noisy, t)])
                rows[f"min_cutoff={min_cutoff} beta={beta}"] = rms(out)
        result[name] = rows
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--people", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--pose", metavar="VARIANT", help="also time this pose model's runtimes")
    parser.add_argument("--pose-people", type=int, nargs="+", default=[1, 3, 6])
    parser.add_argument("--pose-frames", type=int, default=10)
    parser.add_argument("--pose-rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch and ONNX Runtime threads")
    parser.add_argument("--package", type=Path, help="an AOTInductor package of --pose to time")
    parser.add_argument("--detector", type=Path, help="a person detector ONNX file to time")
    args = parser.parse_args(argv)
    result = {
        "stages": time_stages(args.frames, args.people, args.rounds),
        "smoothing_rms_px": smoothing_error(),
    }
    if args.pose:
        result["networks"] = time_networks(
            args.pose, tuple(args.pose_people), args.pose_frames, args.pose_rounds,
            args.threads, args.detector, args.package,
        )  # fmt: skip
    print("| stage | ms per frame |\n|---|---|")
    for name, ms in result["stages"]["ms_per_frame"].items():
        print(f"| {name} | {ms:.2f} |")
    errors = result["smoothing_rms_px"]
    print("\n| One-Euro setting | " + " | ".join(errors) + " |")
    print("|---" * (len(errors) + 1) + "|")
    for setting in errors["standing"]:
        print(f"| {setting} | " + " | ".join(f"{e[setting]:.2f}" for e in errors.values()) + " |")
    if args.pose:
        table = result["networks"]["ms_per_frame"]
        counts = args.pose_people
        print("\n| ms per frame | " + " | ".join(f"{n} people" for n in counts) + " |")
        print("|---" * (len(counts) + 1) + "|")
        for name, row in table.items():
            print(f"| {name} | " + " | ".join(f"{row[n]:.1f}" for n in counts) + " |")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
