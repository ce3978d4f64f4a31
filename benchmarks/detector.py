"""Latency of a person detector on this machine's CPU, one image at a time: an end2end ONNX
file or a published tag, timed as a whole call
(``lite_hrnet.inference.detection.PersonDetector``: letterbox, ONNX Runtime, boxes) and
in its two measured parts, the preprocessing and the network.

    python -m benchmarks.detector rtmdet_nano     # a published tag (downloaded once)
    python -m benchmarks.detector end2end.onnx --family yolox --image 720x1280 --threads 2
    python -m benchmarks.detector FILE --photo street.jpg    # a real photo instead of noise

Each figure is the median of about ``--repeats`` timed calls, taken in rounds: per round,
each of the three kinds runs ``--warmup`` untimed calls (they absorb the previous kind's
ONNX Runtime threads, which spin on after a run and would slow OpenCV's resize), then 5
timed ones, so that the machine's drift hits the kinds alike.
The image is uniform noise unless ``--photo`` is given (a network's NMS costs more when it
finds more boxes). Prints one JSON object: the figures in ms and the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from lite_hrnet.inference.detection import load_detector

_PER_ROUND = 5


def time_detector(
    spec: str | Path,
    image: np.ndarray,
    *,
    family: str | None = None,
    threads: int = 2,
    warmup: int = 2,
    repeats: int = 50,
) -> dict[str, Any]:
    """Median ms of the whole call, the preprocessing and the network alone on ``image``
    (H, W, 3) uint8 RGB, and how many people the last call found."""
    detector = load_detector(spec, family=family, threads=threads, score_threshold=0.3)
    batch, _ = detector.preprocess(image)
    feed = {detector.session.get_inputs()[0].name: batch}
    parts = {
        "call_ms": lambda: detector(image),
        "preprocess_ms": lambda: detector.preprocess(image),
        "network_ms": lambda: detector.session.run(None, feed),
    }
    times: dict[str, list[float]] = {name: [] for name in parts}
    for _ in range(max(1, -(-repeats // _PER_ROUND))):
        for name, run in parts.items():
            for _ in range(warmup):
                run()
            for _ in range(_PER_ROUND):
                start = time.perf_counter()
                run()
                times[name].append((time.perf_counter() - start) * 1e3)
    h, w = detector.input_size
    return {
        "file": detector.source,
        "family": detector.family.name,
        "input": f"{h}x{w}",
        "image": f"{image.shape[0]}x{image.shape[1]}",
        **{name: round(statistics.median(values), 3) for name, values in times.items()},
        "people_found": len(detector(image)),
        "repeats": repeats,
    }


def machine(threads: int) -> dict[str, Any]:
    """What the figures were measured on."""
    import onnxruntime

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average_at_start": round(os.getloadavg()[0], 2),
        "threads": threads,
        "onnxruntime": onnxruntime.__version__,
        "opencv": cv2.__version__,
    }


def _size(text: str) -> tuple[int, int]:
    h, _, w = text.partition("x")
    return int(h), int(w)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", help="an end2end detector ONNX file, or a published tag")
    parser.add_argument("--family", choices=["rtmdet", "yolox"], help="when the name does not say")
    parser.add_argument("--image", type=_size, default=(480, 640), help="HxW of the noise image")
    parser.add_argument("--photo", type=Path, help="time on this image file instead")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls per round")
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args(argv)
    if args.photo is not None:
        bgr = cv2.imread(str(args.photo), cv2.IMREAD_COLOR)
        if bgr is None:
            parser.error(f"--photo {args.photo}: not an image file OpenCV can read")
        image = np.ascontiguousarray(bgr[..., ::-1])
    else:
        image = np.random.default_rng(0).integers(0, 256, (*args.image, 3), dtype=np.uint8)
    info = machine(args.threads)
    report = {
        **time_detector(
            args.spec, image, family=args.family, threads=args.threads,
            warmup=args.warmup, repeats=args.repeats,
        ),
        "machine": info,
    }  # fmt: skip
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
