"""Per-class pixel shares of a Cityscapes-layout train split, and median-frequency loss
weights for ``task.class_weights``.

    python experiments/segmentation_class_weights.py ~/.cache/lite-hrnet/synthetic_cityscapes
    python experiments/segmentation_class_weights.py /data/cityscapes --power 0.5

Weight of class c: (median share / share of c) ** power, clipped to [--low, --high]; classes
absent from the split get 1. Prints the shares (%) and the weights as a Hydra list.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from lite_hrnet.meta.cityscapes import NAME_TO_LABEL

NUM_CLASSES = 19


def class_shares(root: Path) -> np.ndarray:
    """(19,) share of each trainId among the labelled pixels of ``root/gtFine/train``."""
    lut = np.full(256, 255, np.uint8)
    for label in NAME_TO_LABEL.values():
        if 0 <= label.trainId < NUM_CLASSES:
            lut[label.id] = label.trainId
    files = sorted((root / "gtFine" / "train").glob("*/*_gtFine_labelIds.png"))
    if not files:
        raise FileNotFoundError(f"{root}/gtFine/train: no *_gtFine_labelIds.png files")
    counts = np.zeros(256, np.int64)
    for path in tqdm(files, desc="counting labels"):
        label_ids = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if label_ids is None:
            raise ValueError(f"{path}: not a readable PNG")
        counts += np.bincount(lut[label_ids].ravel(), minlength=256)
    return counts[:NUM_CLASSES] / max(1, counts[:NUM_CLASSES].sum())


def median_frequency_weights(
    shares: np.ndarray, power: float, low: float, high: float
) -> np.ndarray:
    present = shares > 0
    weights = np.ones_like(shares)
    weights[present] = np.clip((np.median(shares[present]) / shares[present]) ** power, low, high)
    return weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--power", type=float, default=1.0)
    parser.add_argument("--low", type=float, default=0.25)
    parser.add_argument("--high", type=float, default=10.0)
    args = parser.parse_args()
    shares = class_shares(args.root.expanduser())
    names = [n for n, lab in NAME_TO_LABEL.items() if 0 <= lab.trainId < NUM_CLASSES]
    names.sort(key=lambda n: NAME_TO_LABEL[n].trainId)
    for name, share in zip(names, shares):
        print(f"{name:14s} {100 * share:6.2f}%")
    weights = median_frequency_weights(shares, args.power, args.low, args.high)
    print("task.class_weights=[" + ",".join(f"{w:.2f}" for w in weights) + "]")


if __name__ == "__main__":
    main()
