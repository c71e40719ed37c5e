"""Notifications (issue 5): in-app centre, e-mail, SMS, group robots, preferences, delivery log, templates.

``app.notifier.notify(conn, user_ids=..., key=..., template=... | title=..., record=(entity, id))`` is
the one way automation tells people something (see runtime/notify/service.py). Message templates live
in a pack's templates/ folder (runtime/notify/templates/); channel settings are parameters
(runtime/notify/settings.py).
"""

from runtime.notify import settings as _settings  # noqa: F401 - declares the channel parameters
from runtime.notify.service import Notifier

__all__ = ["Notifier"]
