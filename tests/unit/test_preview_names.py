"""The Preview tab's port names: what Declare suggests and what a name may be (Kubernetes'
container port names: at most 15 characters, a-z0-9 and inner dashes, one letter)."""

from __future__ import annotations

import pytest

from state.sandbox_preview import PORT_NAME_RULE, port_name_problem, suggested_name


def test_suggested_names_are_free_and_valid():
    assert suggested_name(8000, set()) == "web"
    assert suggested_name(8000, {"web"}) == "web-8000"
    assert suggested_name(65535, {"web", "web-65535"}) == "port-65535"
    assert suggested_name(65535, {"web", "web-65535", "port-65535"}) == "p65535"
    for taken in [set(), {"web"}, {"web", "web-65535"}, {"web", "web-65535", "port-65535"}]:
        assert port_name_problem(suggested_name(65535, taken)) == ""


@pytest.mark.parametrize("name", ["web", "api-2", "a", "x" * 15, "h2c", "9p"])
def test_valid_names(name):
    assert port_name_problem(name) == ""


@pytest.mark.parametrize(
    "name", ["x" * 16, "Web", "web_1", "-web", "web-", "we--b", "8000", "wéb", "web 1"]
)
def test_invalid_names(name):
    assert port_name_problem(name) == PORT_NAME_RULE


def test_a_missing_name():
    assert port_name_problem("") == "Enter a name for the port, such as web."
