"""What a member's feed gets instead of a case view too large for one message.

A case view grows with the case (assessments, plans, meetings); past the server's max
payload it cannot be published at all. The feed then carries this notice, on the same
subject and with the same headers and message id: the case changed (``seq``,
``event_type``, ``as_of``), and the whole view is read with the ``case_view`` query, which
decides what the agency may see exactly as the feed does (``views.view_of``). A notice
rather than a split view: parts on one subject could be read, retained or purged apart,
and a part would look like a whole view to a consumer that does not know about parts.

    >>> notice = json.loads(too_large_notice(
    ...     "tsunagu.feed.city.case-1.case", b'{"seq": 7, "view": {}}', 1048576))
    >>> notice["read_with"]
    {'subject': 'tsunagu.query.city.case_view', 'args': {'case_id': 'case-1'}}
"""

from __future__ import annotations

import json
from typing import Any


def too_large_notice(subject: str, data: bytes, limit: int) -> bytes:
    """The notice for the feed message ``data`` on ``<prefix>.feed.<agency>.<case>.<kind>``."""
    prefix, _feed, agency, case_id, _kind = subject.rsplit(".", 4)
    try:
        body: dict[str, Any] = json.loads(data)
    except ValueError:
        body = {}
    return json.dumps({
        "seq": body.get("seq"),
        "event_type": body.get("event_type"),
        "as_of": body.get("as_of"),
        "case_id": case_id,
        "too_large": True,
        "bytes": len(data),
        "limit": limit,
        "read_with": {"subject": f"{prefix}.query.{agency}.case_view",
                      "args": {"case_id": case_id}},
    }).encode()
