"""``lite-hrnet SUBCOMMAND ...``: dispatch to the subcommand modules.

``train`` hands its arguments to Hydra (``lite-hrnet train experiment=synthetic_coco``);
``summary``, ``export``, ``eval``, ``predict``, ``report`` and ``weights`` are ordinary argparse
commands.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import evaluate, export, predict, report, summary, weights
from .errors import is_clear
from .errors import report as report_error

SUBCOMMANDS = {
    "summary": summary,
    "export": export,
    "eval": evaluate,
    "predict": predict,
    "report": report,
    "weights": weights,
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:  # Hydra parses its own overrides
        from .train import main as train_main

        return train_main(argv[1:])
    hydra_eval = argv[:1] == ["eval"] and evaluate.is_hydra_form(argv[1:])
    if not hydra_eval:
        parser = argparse.ArgumentParser(prog="lite-hrnet", description=__doc__)
        sub = parser.add_subparsers(dest="command", required=True)
        for module in SUBCOMMANDS.values():
            module.add_parser(sub)
        args = parser.parse_args(argv)
    command = "eval" if hydra_eval else args.command
    try:
        if hydra_eval:  # Hydra overrides: ``lite-hrnet eval experiment=... ckpt_path=...``
            return evaluate.main_hydra(argv[1:])
        return SUBCOMMANDS[command].run(args)
    except Exception as error:
        if not is_clear(error):
            raise
        report_error(command, error)
        return 2


if __name__ == "__main__":
    sys.exit(main())
