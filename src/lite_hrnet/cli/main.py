"""``lite-hrnet SUBCOMMAND ...``: dispatch to the subcommand modules."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import export, summary

SUBCOMMANDS = {"summary": summary, "export": export}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lite-hrnet", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS.values():
        module.add_parser(sub)
    args = parser.parse_args(argv)
    try:
        return SUBCOMMANDS[args.command].run(args)
    except (ValueError, FileNotFoundError) as e:
        print(f"lite-hrnet {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
