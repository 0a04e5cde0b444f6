"""Who the console acts as (state/base.py): the principal behind the sign-in cookie of a
state's socket, labelled console; nobody with no access once the sign-in ended or its token
was revoked; anonymous admin with authentication off."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from backend.auth.service import (
    NOBODY,
    issue_sign_in,
    principal_of_secret,
    revoke_sign_in,
    sign_in_from_cookie,
    sign_in_subject,
)
from backend.errors import Forbidden, NotFound
from backend.principals import service as tokens
from backend.principals.models import ApiTokenCreate
from backend.projects import service as projects
from state import base
from state.sign_in import areas_of
from tests.api.conftest import TOKEN


@pytest.fixture
def console(settings, database, monkeypatch):
    """The console's view of the process's services, with authentication on."""
    secured = settings.model_copy(update={"api_token": TOKEN})
    found = SimpleNamespace(settings=secured, database=database)
    monkeypatch.setattr(base, "get_services", lambda: found)
    return found


def named_token(console, **fields) -> str:
    with console.database.session() as db:
        admin = base.console_principal(NOBODY)
        _, secret = tokens.create_token(
            db, principal=admin, data=ApiTokenCreate.model_validate(fields)
        )
    return secret


def signed_in(console, secret: str) -> str:
    with console.database.session() as db:
        principal = principal_of_secret(db, console.settings, secret)
    return issue_sign_in(console.settings, sign_in_subject(principal))


def test_the_console_acts_as_the_signed_in_principal(console) -> None:
    secret = named_token(console, name="laptop", principal="alice", role="viewer")
    acting = base.principal_of_cookie(signed_in(console, secret))
    assert (acting.subject, acting.role, acting.actor, acting.source) == (
        "alice",
        "viewer",
        "alice",
        "console",
    )
    assert areas_of(acting) == [
        "projects",
        "templates",
        "sandboxes",
        "artifacts",
        "policies",
        "quotas",
        "credentials",
        "tokens",
    ]
    shared = base.principal_of_cookie(issue_sign_in(console.settings))
    assert (shared.subject, shared.role, shared.source) == ("token:shared", "admin", "console")


def test_no_access_once_the_sign_in_ends_or_its_token_is_revoked(console) -> None:
    secret = named_token(console, name="ci", principal="bob", role="developer")
    cookie = signed_in(console, secret)
    assert base.principal_of_cookie(cookie).subject == "bob"
    with console.database.session() as db:
        [row] = tokens.list_tokens(db, principal=base.console_principal(NOBODY))
        tokens.revoke_token(db, principal=base.console_principal(NOBODY), token_id=row.id)
    assert base.principal_of_cookie(cookie) == base.SIGNED_OUT
    assert areas_of(base.SIGNED_OUT) == []

    other = issue_sign_in(console.settings)
    with console.database.session() as db:
        revoke_sign_in(db, sign_in=sign_in_from_cookie(console.settings, other))
    assert base.principal_of_cookie(other) == base.SIGNED_OUT
    assert base.principal_of_cookie(None) == base.SIGNED_OUT
    assert base.principal_of_cookie("v3.forged") == base.SIGNED_OUT


def test_with_authentication_off_everyone_is_anonymous_admin(console) -> None:
    console.settings = console.settings.model_copy(update={"api_token": ""})
    acting = base.principal_of_cookie(None)
    assert (acting.subject, acting.role, acting.actor, acting.source) == (
        "anonymous",
        "admin",
        "anonymous",
        "console",
    )


def test_a_scoped_principal_sessions_see_only_its_projects(console, api) -> None:
    mine, theirs = api.project(), api.project()
    secret = named_token(
        console, name="scoped", principal="carol", role="developer", projectIds=[mine["id"]]
    )
    acting = base.principal_of_cookie(signed_in(console, secret))
    with base.db_session(acting) as db:
        assert [str(p.id) for p in projects.list_projects(db)] == [mine["id"]]
    assert theirs["id"] != mine["id"]


def test_a_refusal_reads_as_a_sentence() -> None:
    refused = Forbidden("forbidden: the viewer role cannot change projects")
    assert base.refusal(refused) == "Not allowed: the viewer role cannot change projects."
    assert base.refusal(NotFound()) == "resource not found"
