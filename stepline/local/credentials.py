"""The one place Stepline's local runtime sets AWS credentials and a region.

Local runs never reach AWS (every call is answered in-process), but boto3
refuses to build clients without a region and credentials. Both the engine
and :class:`~stepline.local.session.LocalSession` call
:func:`use_fake_credentials`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

FAKE_CREDENTIALS: Final[dict[str, str]] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
DEFAULT_REGION: Final[str] = "us-east-1"


def _credentials_configured() -> bool:
    shared = Path(
        os.environ.get("AWS_SHARED_CREDENTIALS_FILE", Path.home() / ".aws" / "credentials")
    )
    return bool(
        os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE") or shared.exists()
    )


def use_fake_credentials(region: str | None = None, *, replace_real: bool = True) -> None:
    """Point boto3 at fake credentials and a region.

    ``replace_real=True`` (a local session: it must never find real
    credentials) overrides whatever is configured and drops ``AWS_PROFILE``,
    and sets ``region``. ``replace_real=False`` (a single engine run inside a
    caller's process, where moto's ``mock_aws`` already swaps credentials
    while it is active) only fills in what is missing: a region
    (``AWS_REGION`` or ``us-east-1``) and credentials when none are configured
    at all.
    """
    if replace_real:
        os.environ.update(FAKE_CREDENTIALS)
        os.environ["AWS_DEFAULT_REGION"] = region or DEFAULT_REGION
        os.environ.pop("AWS_PROFILE", None)
        return
    fallback = region or os.environ.get("AWS_REGION", DEFAULT_REGION)
    os.environ.setdefault("AWS_DEFAULT_REGION", fallback)
    if not _credentials_configured():
        os.environ["AWS_ACCESS_KEY_ID"] = FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"]
        os.environ["AWS_SECRET_ACCESS_KEY"] = FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
