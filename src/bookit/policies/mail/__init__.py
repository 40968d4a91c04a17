"""The mail policy in two halves: `owed` says which emails an event owes (pure), `mailer` is
the follower that delivers and records them."""
