"""EventBridge on the workbench as AWS delivers it: moto 5.2.5 drops ``account`` from every event
it delivers to a target without an input transformer (its default template leaves it out),
where EventBridge delivers the whole event ("Amazon EventBridge events",
https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html). The template
is moto's only trace of it, so it is patched in the server process; the repro:
docs/workbench.md#what-still-reaches-into-moto.
"""

from __future__ import annotations

from typing import Final

__all__ = ["install_eventbridge_account"]

_FIELD: Final = '"account": "<account>", '
_ANCHOR: Final = '"detail-type": "<detail-type>", '


def install_eventbridge_account() -> None:
    """Make targets receive the event's ``account`` (idempotent); raise if moto's default input
    template or paths are not those this was written for."""
    from moto.events.utils import EventTemplateParser  # noqa: PLC0415 -- only the server imports moto

    template = getattr(EventTemplateParser, "DEFAULT_EVENT_INPUT_TEMPLATE", None)
    paths = getattr(EventTemplateParser, "DEFAULT_EVENT_INPUT_PATHS_MAP", None)
    if isinstance(template, str) and _FIELD in template:
        return
    if not isinstance(template, str) or _ANCHOR not in template or not isinstance(paths, dict):
        raise RuntimeError(
            "moto's EventBridge default input template is not what s3ledger's patch was "
            "written for (moto 5.2.5)"
        )
    if paths.get("account") != "$.account":
        raise RuntimeError("moto's EventBridge input paths do not name $.account (moto 5.2.5)")
    EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = template.replace(_ANCHOR, _ANCHOR + _FIELD)
