"""`bookit person export EMAIL`: what BookIT holds about one person (CONTRACT "Personal data")."""

from __future__ import annotations

import json

import click

from bookit.entrypoints.cli.context import Context, main, pass_ctx


@main.group()
def person() -> None:
    """A person's own data: export it (GDPR article 15)."""


@person.command("export")
@click.argument("email")
@pass_ctx
def person_export(ctx: Context, email: str) -> None:
    """Everything BookIT holds about EMAIL, as one JSON document (exit 2 if nothing)."""
    from pydantic import TypeAdapter, ValidationError

    from bookit.commands import Email
    from bookit.errors import BadInput, shown
    from bookit.personal.export import export_for

    try:
        address = TypeAdapter(Email).validate_python(email)  # checked and lower case, as commands keep it
    except ValidationError:
        raise BadInput(f"not an email address: {shown(email)}", "bad_input") from None
    document = export_for(ctx.read_models, address, actor_is_admin=True)  # the operator's shell
    click.echo(json.dumps(document, sort_keys=True, indent=None if ctx.as_json else 2))
