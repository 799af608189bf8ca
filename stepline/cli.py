"""The one ``stepline`` command line.

Each sub-command lives in its own module under :mod:`stepline.commands` and
exposes ``register(subparsers)``; this module only wires them together, so
adding a command never touches another command's code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Order is the order shown by ``stepline --help``.
COMMAND_MODULES = (
    "stepline.commands.demo",
    "stepline.commands.replay",
    "stepline.commands.validate",
    "stepline.commands.generate",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stepline",
        description="Stepline: the daily sales pipeline on AWS Step Functions, runnable locally.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Each sub-parser sets ``handler`` with set_defaults(handler=...).
    return int(args.handler(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
