"""Lead times and limits: configuration with the defaults from DESIGN.md, never constants."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class Rules:
    reminder_lead: timedelta = timedelta(hours=24)
    cancel_lead: timedelta = timedelta(hours=2)
    # A reminder must have reached the owner this long before the cancel deadline, or the
    # booking is not auto-cancelled: nobody loses a booking without a real chance to confirm.
    reminder_grace: timedelta = timedelta(hours=1)
    offer_window: timedelta = timedelta(minutes=15)
    waitlist_limit_per_day: int = 3
    # After a failed delivery the mailer leaves the mail server alone this long, doubling the
    # wait after each further failure up to the cap: commands stop paying for a server that is
    # down, and the first attempt after it returns comes within one cap.
    mail_retry_first: timedelta = timedelta(seconds=30)
    mail_retry_cap: timedelta = timedelta(minutes=15)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Rules:
        """Read BOOKIT_REMINDER_LEAD_MINUTES and friends; absent means the default."""
        env = dict(os.environ if env is None else env)
        defaults = cls()

        def minutes(name: str, default: timedelta) -> timedelta:
            raw = env.get(name)
            return default if raw is None else timedelta(minutes=float(raw))

        def seconds(name: str, default: timedelta) -> timedelta:
            raw = env.get(name)
            return default if raw is None else timedelta(seconds=float(raw))

        return cls(
            reminder_lead=minutes("BOOKIT_REMINDER_LEAD_MINUTES", defaults.reminder_lead),
            cancel_lead=minutes("BOOKIT_CANCEL_LEAD_MINUTES", defaults.cancel_lead),
            reminder_grace=minutes("BOOKIT_REMINDER_GRACE_MINUTES", defaults.reminder_grace),
            offer_window=minutes("BOOKIT_OFFER_MINUTES", defaults.offer_window),
            waitlist_limit_per_day=int(
                env.get("BOOKIT_WAITLIST_LIMIT_PER_DAY", defaults.waitlist_limit_per_day)
            ),
            mail_retry_first=seconds("BOOKIT_MAIL_RETRY_SECONDS", defaults.mail_retry_first),
            mail_retry_cap=seconds("BOOKIT_MAIL_RETRY_MAX_SECONDS", defaults.mail_retry_cap),
        )
