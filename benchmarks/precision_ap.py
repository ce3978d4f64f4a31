"""COCO AP of one trained checkpoint in every shipped precision, on a COCO-layout val split:
each path is exported and evaluated by the commands a user runs (``lite-hrnet export``,
``lite-hrnet eval coco``), in processes of their own, and its predictions file is scored
here with the same pycocotools evaluation.

    make train    # Lite-HRNet-18 on the synthetic COCO set, best.ckpt in its run folder
    python -m benchmarks.precision_ap --checkpoint RUN/checkpoints/best.ckpt \\
        --data-root ~/.cache/lite-hrnet/synthetic_coco_<key>

int8 paths are calibrated on the train split's person crops of ``--data-root``. The table
gives each path's AP and AP50 and their difference from torch float32; speed is
``benchmarks.bench``'s job (the same paths, by the names in its ``--paths``).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import lite_hrnet
from lite_hrnet.metrics.coco_keypoints import coco_keypoint_eval

# path name -> (the export's arguments, None where the checkpoint runs in torch; the extra
# `eval coco` arguments).
PATHS: dict[str, tuple[list[str] | None, list[str]]] = {
    "torch fp32": (None, []),
    "torch bf16": (None, ["--bf16"]),
    "onnxruntime fp32, export --optimize": (["--optimize", "--output", "{dir}/opt.onnx"], []),
    "onnxruntime int8, export --int8": (["--int8", "--output", "{dir}/int8.onnx"], []),
    "openvino fp32": (["--format", "openvino", "--output", "{dir}/fp32.xml"], []),
    "openvino bf16": (["--format", "openvino", "--bf16", "--output", "{dir}/bf16.xml"], []),
    "openvino int8": (["--format", "openvino", "--int8", "--output", "{dir}/int8.xml"], []),
}


def _run(argv: list[str]) -> None:
    print("$ lite-hrnet " + " ".join(argv), flush=True)
    done = subprocess.run([sys.executable, "-m", "lite_hrnet.cli.main", *argv], text=True)
    if done.returncode != 0:
        raise SystemExit(f"lite-hrnet {argv[0]} failed (exit {done.returncode})")


def _val_annotations(root: Path) -> Path:
    files = sorted((root / "annotations").glob("person_keypoints_val*.json"))
    if len(files) != 1:
        raise SystemExit(f"{root / 'annotations'}: expected one person_keypoints_val*.json")
    return files[0]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--paths", nargs="+", choices=list(PATHS), default=list(PATHS))
    parser.add_argument("--work-dir", type=Path, help="exports and predictions (default: temp)")
    parser.add_argument("--calibration-images", type=int, help="export's default if not given")
    args = parser.parse_args(argv)
    from pycocotools.coco import COCO

    estimator = lite_hrnet.PoseEstimator(args.checkpoint)
    model_name = estimator.source.variant
    if model_name is None:
        raise SystemExit(f"{args.checkpoint}: names no registered variant")
    sigmas = estimator.keypoint_set.oks_sigmas()
    gt = COCO(str(_val_annotations(args.data_root)))
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        scores: dict[str, dict[str, float]] = {}
        for name in args.paths:
            export, eval_extra = PATHS[name]
            run_argv = ["--checkpoint", str(args.checkpoint)]
            if export is not None:
                out = [a.format(dir=work) for a in export]
                calibration = []
                if "--int8" in out:
                    calibration = ["--calibration-root", str(args.data_root)]
                    if args.calibration_images is not None:
                        calibration += ["--calibration-images", str(args.calibration_images)]
                _run(["export", model_name, *run_argv, *out, *calibration])
                eval_extra = ["--onnx", out[out.index("--output") + 1]]
            predictions = work / f"{re.sub(r'[^a-z0-9]+', '_', name)}_predictions.json"
            _run(["eval", "coco", *run_argv, *eval_extra, "--data-root", str(args.data_root),
                  "--num-workers", "0", "--output", str(predictions)])  # fmt: skip
            scores[name] = coco_keypoint_eval(gt, json.loads(predictions.read_text()), sigmas)
    reference = scores.get("torch fp32")
    print(f"\n{model_name}, {args.checkpoint}, val of {args.data_root}")
    print("| path | AP | AP50 | AP - torch fp32 (points) |")
    print("|---|---|---|---|")
    for name, s in scores.items():
        delta = "" if reference is None else f"{100 * (s['AP'] - reference['AP']):+.1f}"
        print(f"| {name} | {100 * s['AP']:.1f} | {100 * s['AP50']:.1f} | {delta} |")
    return scores


if __name__ == "__main__":
    main()
