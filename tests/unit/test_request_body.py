"""request_body: a bad request body is InvalidInput in words, pointing at its field."""

from __future__ import annotations

import pytest

from backend.errors import InvalidInput
from backend.projects.models import ProjectCreate
from backend.templates.models import TemplateCreate
from backend.validation import field_path, request_body


@pytest.mark.parametrize(
    ("model", "data", "message", "field"),
    [
        (ProjectCreate, {"name": "x" * 5000}, "name is too long (at most 4096 characters)", "name"),
        (ProjectCreate, {"name": 7}, "name must be text", "name"),
        (ProjectCreate, {"foo": 1}, 'unknown field "foo"', "foo"),
        (
            ProjectCreate,
            {"default_namespace": "ns"},  # snake_case is not a wire name
            'unknown field "default_namespace"',
            "default_namespace",
        ),
        (
            ProjectCreate,
            {"artifactRetentionDays": 1.5},
            "artifactRetentionDays must be a whole number",
            "artifactRetentionDays",
        ),
        (TemplateCreate, {"exposedPorts": {"a": 1}}, "exposedPorts must be a list", "exposedPorts"),
        (
            TemplateCreate,
            {"exposedPorts": [{"name": "web", "port": "80"}]},
            "exposedPorts[0].port must be a whole number",
            "exposedPorts[0].port",
        ),
        (
            TemplateCreate,
            {"exposedPorts": [3]},
            "exposedPorts[0] must be an object",
            "exposedPorts[0]",
        ),
        (
            TemplateCreate,
            {"startupCommand": "sh -c x"},
            "startupCommand must be a list",
            "startupCommand",
        ),
        (
            ProjectCreate,
            {"metadata": {"notes": ["ok", "bad\x00"]}},
            "metadata.notes[1] cannot contain NUL characters",
            "metadata.notes[1]",
        ),
    ],
)
def test_words_and_field(model, data, message, field):
    with pytest.raises(InvalidInput) as refused:
        request_body(model, data)
    assert refused.value.message == message
    assert refused.value.detail == {"field": field}


def test_a_valid_body_is_the_model():
    body = request_body(ProjectCreate, {"name": "Näme", "defaultNamespace": "ns"})
    assert (body.name, body.default_namespace) == ("Näme", "ns")


def test_not_an_object_names_no_field():
    with pytest.raises(InvalidInput) as refused:
        request_body(ProjectCreate, ["name"])  # type: ignore[arg-type]
    assert refused.value.message == "the request must be an object"
    assert refused.value.detail == {}


def test_field_path_skips_validator_steps():
    assert field_path(("exposedPorts", 2, "name")) == "exposedPorts[2].name"
    assert field_path(("metadata", "function-after[check(), str]")) == "metadata"
    assert field_path(()) == ""
