"""``lite-hrnet eval coco|mpii|cityscapes|segmentation --checkpoint C --data-root DIR ...``,
or with a run's own config: ``lite-hrnet eval experiment=NAME ckpt_path=C data.root=DIR`` (Hydra
overrides, the configs of ``train``). Both print the same table and write the same
predictions file."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .pose import add_pose_eval_arguments, run_pose_eval
from .segmentation import add_segmentation_eval_arguments, run_segmentation_eval


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("eval", help="evaluate a checkpoint on a validation split")
    datasets = parser.add_subparsers(dest="dataset", required=True)
    add_pose_eval_arguments(datasets.add_parser("coco", help="COCO keypoint AP (pycocotools)"))
    add_pose_eval_arguments(datasets.add_parser("mpii", help="MPII PCKh"))
    add_segmentation_eval_arguments(datasets.add_parser("cityscapes", help="Cityscapes mIoU"))
    add_segmentation_eval_arguments(
        datasets.add_parser("segmentation", help="mIoU in the checkpoint's own data layout")
    )


def run(args: argparse.Namespace) -> int:
    if args.dataset in ("cityscapes", "segmentation"):
        return run_segmentation_eval(args)
    args.data = args.dataset
    return run_pose_eval(args)


def is_hydra_form(argv: Sequence[str]) -> bool:
    """Whether ``eval``'s arguments are Hydra overrides (``key=value``) rather than flags."""
    return bool(argv) and "=" in argv[0] and not argv[0].startswith("-")


def main_hydra(argv: Sequence[str]) -> int:
    """``lite-hrnet eval OVERRIDES``: Hydra composes ``eval.yaml`` (``train``'s groups).

    An error of the evaluation leaves Hydra (which would print it with a traceback) and is
    raised here, so that ``lite-hrnet`` reports it as it does for the flags' form."""
    import hydra
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import DictConfig, OmegaConf

    from ..config.store import register_configs
    from ..training.evaluation import run_evaluation
    from .hydra_targets import guard_hydra_callbacks

    register_configs()
    guard_hydra_callbacks()
    failures: list[Exception] = []

    @hydra.main(version_base="1.3", config_path="../conf", config_name="eval")
    def hydra_main(cfg: DictConfig) -> None:
        try:
            run_evaluation(OmegaConf.to_object(cfg), HydraConfig.get().runtime.output_dir)
        except Exception as error:
            failures.append(error)

    sys.argv = ["lite-hrnet eval", *argv]
    hydra_main()
    if failures:
        raise failures[0]
    return 0
