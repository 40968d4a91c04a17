"""Every environment variable BookIT reads, with what it means: `bookit --help` lists them (a
test fails when the code reads one that is not here). Plain data, so `--help` stays fast."""

from __future__ import annotations

ENVIRONMENT: tuple[tuple[str, str], ...] = (
    ("BOOKIT_HOME", "--home: the store, read models and outbox (./.bookit)"),
    ("BOOKIT_STORE", "--store: sqlite, or postgresql://user@host/db"),
    ("BOOKIT_BUS", "--bus: local, or a broker URL (amqp://..., redis://...)"),
    ("BOOKIT_BUS_PREFIX", "a prefix for the broker's exchange and queue names"),
    ("BOOKIT_BUS_TIMEOUT", "seconds a command sent over the bus waits for its reply"),
    ("BOOKIT_NOW", "--now: the clock's instant, ISO 8601 with an offset"),
    ("BOOKIT_TICK_SECONDS", "bookit run --every: seconds between ticks (30)"),
    ("BOOKIT_FOLLOW_WAIT", "bookit run --follow-wait"),
    ("BOOKIT_SQLITE_LOCK_TIMEOUT", "seconds a command waits for a busy embedded store (30)"),
    ("BOOKIT_HTTP_HOST", "where bookit run serves the link pages and the API (127.0.0.1)"),
    ("BOOKIT_HTTP_PORT", "... and on which port (8080)"),
    ("BOOKIT_API_SECRET", "the HS256 key API tokens are signed with"),
    ("BOOKIT_API_PUBLIC_KEY", "or the PEM public key of RS256/ES256 tokens"),
    ("BOOKIT_API_ISSUER", "the tokens' required iss"),
    ("BOOKIT_API_AUDIENCE", "the tokens' required aud"),
    ("BOOKIT_API_CORS_ORIGINS", "origins allowed to call the API from a browser, comma-separated"),
    ("BOOKIT_SECRET", "the key email links are signed with (else HOME/link-secret)"),
    ("BOOKIT_LINK_BASE", "the base URL of links in emails"),
    ("BOOKIT_APP_URL", "your app's page for a venue/day/booking, with {venue_id} {date} {booking_id}"),
    ("BOOKIT_MASTER_KEY", "the key that wraps each person's own key (personal data)"),
    ("BOOKIT_SMTP", "smtp://host:port to send email (else the Maildir HOME/outbox)"),
    ("BOOKIT_MAIL_RETRY_SECONDS", "first wait after a failed delivery (30)"),
    ("BOOKIT_MAIL_RETRY_MAX_SECONDS", "longest wait between delivery attempts (900)"),
    ("BOOKIT_REMINDER_LEAD_MINUTES", "a reminder goes out this long before the start (1440)"),
    ("BOOKIT_CANCEL_LEAD_MINUTES", "unconfirmed bookings are auto-cancelled this long before (120)"),
    ("BOOKIT_REMINDER_GRACE_MINUTES", "a reminder must arrive this long before that (60)"),
    ("BOOKIT_OFFER_MINUTES", "minutes to claim a waitlist offer, or auto (15)"),
    ("BOOKIT_OFFER_WINDOW_TABLE", "auto's windows by lead time, LEAD:WINDOW,... minutes"),
    ("BOOKIT_OFFER_MIN_USABLE_MINUTES", "an auto window ends at least this long before the start (30)"),
    ("BOOKIT_OFFER_MIN_WINDOW_MINUTES", "no window is cut shorter than this (15)"),
    ("BOOKIT_OFFER_MODE", "one, batch:N or all (one)"),
    ("BOOKIT_QUIET_HOURS", "HH:MM-HH:MM in each venue's zone when no offer opens (none)"),
    ("BOOKIT_WAITLIST_LIMIT_PER_DAY", "active waitlist entries a person may hold a day (3)"),
    ("BOOKIT_LOG_FORMAT", "text (the default) or json: one JSON object a line on stderr"),
    ("BOOKIT_READY_MAX_LAG", "/readyz fails when a follower is this many events behind (100) ..."),
    ("BOOKIT_READY_STALL_SECONDS", "... and has not moved for this long (10)"),
    ("BOOKIT_OVERDUE_SECONDS", "a timer due longer ago than this counts as overdue (120)"),
)


def epilog() -> str:
    """The block `bookit --help` ends with (`\\b` keeps click from rewrapping it)."""
    width = max(len(name) for name, _ in ENVIRONMENT)
    lines = [f"  {name.ljust(width)}  {meaning}" for name, meaning in ENVIRONMENT]
    return (
        "\b\nEnvironment variables:\n"
        + "\n".join(lines)
        + (
            "\n\n\bThe outside contract (every command, route, message and email): docs/contract.md; "
            "the rules and where each lives: docs/design.md."
        )
    )
