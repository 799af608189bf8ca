"""The reviewed SQL files under ``sql/``: their placeholders filled as the definition fills them.

``${Name}`` placeholders are deploy-time DefinitionSubstitutions; ``{run_date}``
and ``{publish}`` (the publish pass) are what the state's JSONata puts in at run time.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path

from stepline.local.warehouse import split_sql_statements

#: The publish pass whose curated generation the SQL tests write and read.
PUBLISH = "2026-11-20_publish_1_abcd1234-c1"

_PLACEHOLDER_RE = re.compile(r"\$\{(\w+)\}")
_RUN_DATE_PLACEHOLDER = "{run_date}"
_PUBLISH_PLACEHOLDER = "{publish}"


def render_sql(
    template: str,
    *,
    run_date: dt.date | str,
    substitutions: Mapping[str, str],
    publish: str | None = None,
) -> str:
    """Fill a SQL template: ``${Name}`` from ``substitutions``, ``{run_date}`` with the date,
    ``{publish}`` with the publish pass id (the curated generation the SQL reads).

    A ``${Name}`` without a value, or ``{publish}`` without ``publish``, raises
    ``KeyError`` naming it, so a typo never reaches the database as literal text.
    """
    missing = sorted(
        {name for name in _PLACEHOLDER_RE.findall(template) if name not in substitutions}
    )
    if missing:
        raise KeyError(f"no value for SQL placeholder(s): {', '.join(missing)}")
    if _PUBLISH_PLACEHOLDER in template and publish is None:
        raise KeyError("no value for SQL placeholder {publish}: give publish=")
    rendered = _PLACEHOLDER_RE.sub(lambda match: substitutions[match[1]], template)
    if publish is not None:
        rendered = rendered.replace(_PUBLISH_PLACEHOLDER, publish)
    run_date_text = run_date.isoformat() if isinstance(run_date, dt.date) else str(run_date)
    return rendered.replace(_RUN_DATE_PLACEHOLDER, run_date_text)


def load_sql_file(
    path: str | Path,
    *,
    run_date: dt.date | str,
    substitutions: Mapping[str, str],
    publish: str | None = None,
) -> list[str]:
    """Read a file under ``sql/`` and return its statements, rendered, ready to execute."""
    text = Path(path).read_text(encoding="utf-8")
    return [
        render_sql(statement, run_date=run_date, substitutions=substitutions, publish=publish)
        for statement in split_sql_statements(text)
    ]
