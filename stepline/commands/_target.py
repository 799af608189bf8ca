"""The target options every operations command takes, and opening the target they name.

``--local DIR`` (default ``.stepline/local``) works on the persisted local
environment; ``--aws`` (or ``--profile`` / ``--region``, as the AWS CLI takes
them) on the deployed stage. ``--stage`` picks the samconfig.toml environment.
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stepline.local.session import DEFAULT_WORKDIR

# Where ``stepline demo`` keeps its local environment (its --workdir's ``local/``).
DEMO_ENVIRONMENT = Path(".stepline/demo/local")


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group("where (the local environment unless --aws)")
    where.add_argument("--stage", default="dev", help="samconfig.toml environment (default dev)")
    where.add_argument(
        "--local",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"the persisted local environment (default {DEFAULT_WORKDIR})",
    )
    where.add_argument("--aws", action="store_true", help="act on the deployed stage on AWS")
    where.add_argument("--profile", help="AWS CLI profile (implies --aws)")
    where.add_argument("--region", help="AWS region (implies --aws; default: the stage's)")


def wants_aws(args: argparse.Namespace) -> bool:
    from stepline.cli import UsageError

    aws = bool(args.aws or args.profile or args.region)
    if aws and args.local is not None:
        raise UsageError("--local and --aws/--profile/--region name two targets: give one")
    return aws


def require_local_environment(args: argparse.Namespace) -> None:
    """A local environment nothing ever ran in is a wrong ``--local`` (or ``--stage``).

    The commands that read the world (status, backfill, rerun, check-deadline)
    would otherwise make an empty environment there and report on it: every
    store missing, nothing to backfill, an alert sent.
    """
    from stepline.cli import UsageError

    folder = (args.local or DEFAULT_WORKDIR) / args.stage
    if not (folder / "ledger.json").exists():
        raise UsageError(
            f"no local environment at {folder} (no ledger.json): check --local and --stage, "
            f"or run stepline land first (stepline demo's is --local {DEMO_ENVIRONMENT})"
        )


@contextlib.contextmanager
def open_target(args: argparse.Namespace, *, existing: bool = True) -> Iterator[Any]:
    """The target the arguments name, open for the command's duration.

    Locally, the environment must already exist unless ``existing`` is false
    (:func:`require_local_environment`).
    """
    from stepline.ops.target import AwsTarget, open_local

    if wants_aws(args):
        # How often a command polls AWS for executions it waits for (seconds).
        poll = float(os.environ.get("STEPLINE_AWS_POLL_SECONDS", "10"))
        yield AwsTarget(args.stage, profile=args.profile, region=args.region, poll_seconds=poll)
        return
    if existing:
        require_local_environment(args)
    with open_local(args.local or DEFAULT_WORKDIR, args.stage) as target:
        yield target
