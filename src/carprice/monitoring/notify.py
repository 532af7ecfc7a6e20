"""Tell people what the pipeline did: a failed run, a promotion, a rollback.

One optional setting, ``CARPRICE_NOTIFY_URLS``: one or more Apprise URLs (Slack,
Discord, e-mail, ntfy, JSON webhooks, ...; comma-separated). Unset means silent. A
notification is a courtesy: whatever goes wrong sending it is logged in one line and
never fails the run that sends it.
"""

from __future__ import annotations

import logging

from carprice.config import settings
from carprice.errors import one_line

log = logging.getLogger(__name__)


def configured() -> bool:
    return bool(settings.current().notify_url_list)


def send(title: str, body: str, failure: bool = False) -> bool:
    """Send to every configured URL; True when at least one took it. Never raises."""
    urls = settings.current().notify_url_list
    if not urls:
        return False
    try:
        import apprise

        notifier = apprise.Apprise()
        added = sum(bool(notifier.add(url)) for url in urls)
        if not added:
            log.warning("notification not sent: no valid URL in %s", settings.ENV_NOTIFY_URLS)
            return False
        kind = apprise.NotifyType.FAILURE if failure else apprise.NotifyType.SUCCESS
        sent = bool(notifier.notify(title=title, body=body, notify_type=kind))
    except Exception as exc:  # noqa: BLE001 - a notification never fails the run
        log.warning("notification not sent: %s", one_line(exc, 200))
        return False
    if not sent:
        log.warning("notification not sent: the service refused or did not answer")
    return sent


def model_link(model_name: str, version: str) -> str:
    base = settings.current().public_mlflow_url.rstrip("/")
    return f"{base}/#/models/{model_name}/versions/{version}" if base else ""


def promotion_message(model_name: str, version: str, metrics: dict, previous: str | None,
                      reason: str) -> tuple[str, str]:
    """(title, body) of a model moved to production, by a promotion or a rollback."""
    shown = ", ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items())
                      if isinstance(v, int | float))
    lines = [f"{model_name} v{version} now serves as production ({reason}).",
             f"previous production: v{previous}" if previous else "first production model"]
    if shown:
        lines.append(f"test metrics: {shown}")
    link = model_link(model_name, version)
    if link:
        lines.append(link)
    return f"CarPrice: {model_name} v{version} in production", "\n".join(lines)
