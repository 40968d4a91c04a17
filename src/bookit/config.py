"""Lead times and limits: configuration with the defaults from docs/design.md, never constants."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

from bookit.aggregates.offer_policy import (
    DEFAULT_WINDOW_TABLE,
    OfferMode,
    OfferPolicy,
    QuietHours,
    WindowTable,
    parse_window_table,
)


@dataclass(frozen=True)
class Rules:
    reminder_lead: timedelta = timedelta(hours=24)
    cancel_lead: timedelta = timedelta(hours=2)
    # A reminder must have reached the owner this long before the cancel deadline, or the
    # booking is not auto-cancelled: nobody loses a booking without a real chance to confirm.
    reminder_grace: timedelta = timedelta(hours=1)
    offer_window: timedelta = timedelta(minutes=15)
    # How freed time is offered where a venue has not set its own rule (see OfferPolicy): a
    # window by lead time from the table instead of the fixed one, quiet hours, the offer mode.
    offer_window_auto: bool = False
    offer_window_table: WindowTable = DEFAULT_WINDOW_TABLE
    offer_min_usable: timedelta = timedelta(minutes=30)
    offer_min_window: timedelta = timedelta(minutes=15)
    quiet_hours: str | None = None
    offer_mode: str = "one"
    waitlist_limit_per_day: int = 3
    # After a failed delivery the mailer leaves the mail server alone this long, doubling the
    # wait after each further failure up to the cap: commands stop paying for a server that is
    # down, and the first attempt after it returns comes within one cap.
    mail_retry_first: timedelta = timedelta(seconds=30)
    mail_retry_cap: timedelta = timedelta(minutes=15)

    def offer_policy(
        self,
        tz: str,
        *,
        offer_window: str | None = None,
        quiet_hours: str | None = None,
        offer_mode: str | None = None,
    ) -> OfferPolicy:
        """The policy for an offer at a venue in zone `tz`; a venue's own rules in force (as
        text: `auto` or minutes, `HH:MM-HH:MM` or empty for none, `one|batch:N|all`) win over
        the configured defaults."""
        window: timedelta | None = None if self.offer_window_auto else self.offer_window
        if offer_window is not None:
            window = None if offer_window == "auto" else timedelta(minutes=float(offer_window))
        quiet = self.quiet_hours if quiet_hours is None else quiet_hours
        return OfferPolicy(
            tz=tz,
            window=window,
            table=self.offer_window_table,
            min_usable=self.offer_min_usable,
            min_window=self.offer_min_window,
            quiet=QuietHours.parse(quiet) if quiet else None,
            mode=OfferMode.parse(offer_mode or self.offer_mode),
        )

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Rules:
        """Read BOOKIT_REMINDER_LEAD_MINUTES and friends; absent means the default.

        BOOKIT_OFFER_MINUTES may be `auto` (the window by lead time)."""
        env = dict(os.environ if env is None else env)
        defaults = cls()

        def minutes(name: str, default: timedelta) -> timedelta:
            raw = env.get(name)
            return default if raw is None else timedelta(minutes=float(raw))

        def seconds(name: str, default: timedelta) -> timedelta:
            raw = env.get(name)
            return default if raw is None else timedelta(seconds=float(raw))

        window = env.get("BOOKIT_OFFER_MINUTES")
        table = env.get("BOOKIT_OFFER_WINDOW_TABLE")
        return cls(
            reminder_lead=minutes("BOOKIT_REMINDER_LEAD_MINUTES", defaults.reminder_lead),
            cancel_lead=minutes("BOOKIT_CANCEL_LEAD_MINUTES", defaults.cancel_lead),
            reminder_grace=minutes("BOOKIT_REMINDER_GRACE_MINUTES", defaults.reminder_grace),
            offer_window=defaults.offer_window
            if window in (None, "auto")
            else timedelta(minutes=float(window)),
            offer_window_auto=window == "auto",
            offer_window_table=parse_window_table(table) if table else defaults.offer_window_table,
            offer_min_usable=minutes("BOOKIT_OFFER_MIN_USABLE_MINUTES", defaults.offer_min_usable),
            offer_min_window=minutes("BOOKIT_OFFER_MIN_WINDOW_MINUTES", defaults.offer_min_window),
            quiet_hours=env.get("BOOKIT_QUIET_HOURS") or None,
            offer_mode=env.get("BOOKIT_OFFER_MODE", defaults.offer_mode),
            waitlist_limit_per_day=int(
                env.get("BOOKIT_WAITLIST_LIMIT_PER_DAY", defaults.waitlist_limit_per_day)
            ),
            mail_retry_first=seconds("BOOKIT_MAIL_RETRY_SECONDS", defaults.mail_retry_first),
            mail_retry_cap=seconds("BOOKIT_MAIL_RETRY_MAX_SECONDS", defaults.mail_retry_cap),
        )
