"""Filter expressions on ``person_id``: user text is never pasted into an expression unescaped.

Servers >= 2.5 get ``filter_params`` templating; Milvus Lite and older servers (the 2.3.5 test
server, the 2.4 docker-compose server) get a quoted, escaped string literal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .schema import PERSON_FIELD, check_no_control_chars


def quote_expr_string(value: str) -> str:
    """Milvus expression string literal for ``value`` (backslashes and quotes escaped).

    Control characters are rejected: Milvus Lite does not match escaped control characters.
    """
    check_no_control_chars(PERSON_FIELD, value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def person_filter(person_id: str, templated: bool) -> tuple[str, dict[str, Any]]:
    """Expression (and template params) selecting one person's rows."""
    if not isinstance(person_id, str) or not person_id:
        raise ValueError(f"person_id must be a non-empty string, got {person_id!r}")
    if templated:
        check_no_control_chars(PERSON_FIELD, person_id)
        return f"{PERSON_FIELD} == {{pid}}", {"pid": person_id}
    return f"{PERSON_FIELD} == {quote_expr_string(person_id)}", {}


def supports_filter_templates(server_version: str | None) -> bool:
    """Filter templating (``filter_params``) exists from Milvus 2.5; Lite (None) lacks it."""
    match = re.match(r"v?(\d+)\.(\d+)", server_version or "")
    return bool(match) and (int(match[1]), int(match[2])) >= (2, 5)


def filter_kwargs(params: Mapping[str, Any]) -> dict[str, Any]:
    """``filter_params`` keyword for a templated filter, nothing for a literal one."""
    return {"filter_params": dict(params)} if params else {}
