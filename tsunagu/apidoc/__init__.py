"""The AsyncAPI document as one self-contained HTML page (``tsunagu contracts export --html``).

Rendered by our own jinja2 template (no JavaScript, no network): servers and security,
then commands, queries, migration subjects, the feed and the events, each channel with its
messages' schemas and the command's cross-field rules; ``$ref`` links jump to the schema.

    >>> from contracts.export import asyncapi
    >>> "<h2 id=\\"queries\\">" in render(asyncapi())
    True
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

HERE = Path(__file__).parent
_REF = re.compile(r"&#34;#/components/(schemas|messages)/([\w.-]+)&#34;")
GROUPS = (("commands", "cmd."), ("queries", "query."), ("migration", "migrate."),
          ("operator", "admin."), ("feed", "feed."), ("events", "events."),
          ("dead letters", "dlq."))


def _schema_html(value: Any) -> Markup:
    """JSON, escaped, with each ``$ref`` a link to the component on the page."""
    text = str(escape(json.dumps(value, ensure_ascii=False, indent=2)))
    return Markup(_REF.sub(r'<a href="#\1-\2">"#/components/\1/\2"</a>', text))


def _group(address: str | None) -> str | None:
    for name, token in GROUPS:
        if address and f".{token}" in address:
            return name
    return None


def render(doc: dict[str, Any]) -> str:
    env = Environment(loader=FileSystemLoader(HERE), autoescape=select_autoescape(["html"]))
    env.filters["schema"] = _schema_html
    messages = doc["components"]["messages"]
    groups: dict[str, list[tuple[str, dict[str, Any], list[tuple[str, dict[str, Any]]]]]] = {
        name: [] for name, _ in GROUPS}
    # Channels without an address are reply channels: shown with their request.
    for cid, channel in sorted(doc["channels"].items()):
        group = _group(channel.get("address"))
        if group is None:
            continue
        msgs = [(role, messages[ref["$ref"].rsplit("/", 1)[-1]])
                for role, ref in channel.get("messages", {}).items()]
        groups[group].append((cid, channel, msgs))
    replies = {op["channel"]["$ref"].rsplit("/", 1)[-1]:
               messages[next(iter(doc["channels"][op["reply"]["channel"]["$ref"]
                                      .rsplit("/", 1)[-1]]["messages"].values()))["$ref"]
                        .rsplit("/", 1)[-1]]
               for op in doc["operations"].values() if "reply" in op}
    return env.get_template("asyncapi.html").render(
        doc=doc, groups=groups, titles=dict(GROUPS), replies=replies)


def write_html(doc: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "index.html"
    path.write_text(render(doc), encoding="utf-8")
    return path
