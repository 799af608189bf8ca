"""The one ``stepline`` command line.

Each sub-command lives in its own module under :mod:`stepline.commands` and
exposes ``register(subparsers)``; this module only wires them together, so
adding a command never touches another command's code.

Exit status, for every command: 0 success; 1 the command ran and the outcome
was not success (a rejected file, a failed execution); 2 a usage or
environment problem, reported as one line on stderr saying what is wrong and
what to do (the traceback only with ``--debug``). Output cut short because
its reader went away (``| head``) ends quietly with 141, as a shell reports SIGPIPE.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

# Order is the order shown by ``stepline --help``.
COMMAND_MODULES = (
    "stepline.commands.demo",
    "stepline.commands.land",
    "stepline.commands.status",
    "stepline.commands.backfill",
    "stepline.commands.rerun",
    "stepline.commands.check_deadline",
    "stepline.commands.cost",
    "stepline.commands.replay",
    "stepline.commands.validate",
    "stepline.commands.generate",
)

EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 141


class UsageError(Exception):
    """A wrong argument or an environment a command cannot work in: exit 2, one line."""


def command_name(module_name: str) -> str:
    """The command a module registers: its name, with dashes (check_deadline -> check-deadline)."""
    return module_name.rsplit(".", 1)[1].replace("_", "-")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or only of command ``only`` when it is one.

    Importing a command's module imports what it needs (boto3, moto, Spark...):
    a command named on the command line starts without the others' imports
    (``stepline validate`` would otherwise spend more time importing than
    validating a 100 MB file).
    """
    modules = [name for name in COMMAND_MODULES if command_name(name) == only]
    parser = argparse.ArgumentParser(
        prog="stepline",
        description="Stepline: the daily sales pipeline on AWS Step Functions, runnable locally.",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of an unexpected error"
    )
    parser.add_argument("--version", action=_VersionAction)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in modules or COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    for command in subparsers.choices.values():
        one_line_errors(command)
        # Also after the command (stepline validate ... --debug); SUPPRESS keeps a
        # --debug given before the command from being reset by this default.
        command.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show the traceback of an unexpected error",
        )
    one_line_errors(parser)
    return parser


class _VersionAction(argparse.Action):
    """``--version``, which reads the installed metadata only when asked.

    (argparse's own ``version`` action needs the text up front: importlib.metadata
    and the read took about 20 ms of every command's start.)
    """

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(
            option_strings, dest, nargs=0, default=argparse.SUPPRESS,
            help="show the version and exit",
        )

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        print(f"stepline {_version()}")
        parser.exit()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("stepline")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "(not installed)"


def one_line_errors(parser: argparse.ArgumentParser) -> None:
    """argparse's errors as one line on stderr (its default prints the usage text too)."""

    def error(message: str) -> NoReturn:
        parser.exit(EXIT_USAGE, f"{parser.prog}: error: {message} (see {parser.prog} --help)\n")

    # argparse has no hook for errors other than replacing the method.
    parser.error = error  # type: ignore[method-assign]


def _environment_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean "fix the input or the environment", not "Stepline is broken"."""
    from stepline.definition import DefinitionError
    from stepline.local.session import LocalEnvironmentBusy

    return (
        UsageError,
        LocalEnvironmentBusy,
        DefinitionError,
        FileNotFoundError,
        PermissionError,
        IsADirectoryError,
        NotADirectoryError,
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The only option before a command is --debug, so the first word is the command.
    named = next((word for word in argv if not word.startswith("-")), None)
    parser = build_parser(named)
    args = parser.parse_args(argv)
    # A command that parses its own arguments (land) still sees --debug here.
    debug = bool(getattr(args, "debug", False)) or "--debug" in argv
    try:
        # Each sub-parser sets ``handler`` with set_defaults(handler=...).
        code = int(args.handler(args) or 0)
        sys.stdout.flush()  # here, so that a reader gone away is handled below
        return code
    except _environment_errors() as problem:
        if debug:
            traceback.print_exc()
        print(f"stepline {args.command}: error: {_one_line(problem)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"stepline {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of stdout went away (stepline validate ... | head): not an error
        # of Stepline's. Quiet, and exit as a shell reports a SIGPIPE (128 + 13).
        # Python would flush stdout again at exit and print the error once more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _one_line(problem: BaseException) -> str:
    if isinstance(problem, FileNotFoundError) and problem.filename:
        return f"{problem.filename}: no such file; check the path"
    if isinstance(problem, PermissionError) and problem.filename:
        return f"{problem.filename}: permission denied"
    if isinstance(problem, IsADirectoryError) and problem.filename:
        return f"{problem.filename} is a folder: give a file's path"
    if isinstance(problem, NotADirectoryError) and problem.filename:
        return f"{problem.filename} is a file (or under one): give a folder's path"
    return " ".join(str(problem).split())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
