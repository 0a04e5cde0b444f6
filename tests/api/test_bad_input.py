"""Every class of bad input gets the right 4xx with `{"error": ...}`, never a 500, and
leaves the database exactly as it was."""

from __future__ import annotations

import pytest

MISSING = "5c0ffee0-0000-4000-8000-000000000000"


@pytest.fixture
def world(api):
    project = api.project(name="World")
    template = api.template(name="Base")
    sandbox = api.sandbox(project, template, name="Box")
    return {"project": project["id"], "template": template["id"], "sandbox": sandbox["id"]}


WRITE_ROUTES = [
    ("POST", "/v1/projects"),
    ("PATCH", "/v1/projects/{project}"),
    ("POST", "/v1/templates"),
    ("PATCH", "/v1/templates/{template}"),
    ("POST", "/v1/sandboxes"),
    ("PATCH", "/v1/sandboxes/{sandbox}"),
]


def _send(client, method, path, world, **kwargs):
    return client.request(method, path.format(**world), **kwargs)


def _assert_refused(response, status, before, row_counts):
    assert response.status_code == status, response.text
    assert set(response.json()) <= {"error", "detail"} and response.json()["error"]
    assert row_counts() == before


@pytest.mark.parametrize(("method", "path"), WRITE_ROUTES)
@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"[1, 2]", b'"text"', b"null", b'{"name": "a",}', b"\xff\xfe"],
    ids=["empty", "truncated", "array", "string", "null", "trailing-comma", "not-utf8"],
)
def test_malformed_json(client, world, row_counts, method, path, raw):
    before = row_counts()
    response = _send(
        client, method, path, world, content=raw, headers={"Content-Type": "application/json"}
    )
    _assert_refused(response, 400, before, row_counts)
    assert response.json()["error"] == "invalid JSON request body"


@pytest.mark.parametrize(("method", "path"), WRITE_ROUTES)
def test_unknown_fields(client, world, row_counts, method, path):
    before = row_counts()
    response = _send(client, method, path, world, json={"name": "x", "surprise": True})
    _assert_refused(response, 400, before, row_counts)
    assert response.json()["detail"]["reason"] == 'unknown field "surprise"'


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("POST", "/v1/projects", {"name": 7, "defaultNamespace": "ns"}),
        ("POST", "/v1/projects", {"name": "a", "defaultNamespace": ["ns"]}),
        ("PATCH", "/v1/projects/{project}", {"repositoryUrl": False}),
        ("POST", "/v1/templates", {"name": "a", "image": "i", "startupCommand": "sh -c x"}),
        (
            "POST",
            "/v1/templates",
            {"name": "a", "image": "i", "exposedPorts": [{"name": "w", "port": "80"}]},
        ),
        ("PATCH", "/v1/templates/{template}", {"exposedPorts": {"name": "w"}}),
        ("POST", "/v1/sandboxes", {"projectId": 12, "name": "a"}),
        ("PATCH", "/v1/sandboxes/{sandbox}", {"ports": [{"name": "w", "port": 1.5}]}),
    ],
)
def test_wrong_types(client, world, row_counts, method, path, payload):
    before = row_counts()
    response = _send(client, method, path, world, json=payload)
    _assert_refused(response, 400, before, row_counts)
    assert response.json()["error"] == "invalid JSON request body"
    detail = response.json()["detail"]
    assert detail["field"] and detail["reason"].startswith(detail["field"] + " must be ")


@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        ("GET", "/v1/projects/123", "invalid project id"),
        ("PATCH", "/v1/projects/not-a-uuid", "invalid project id"),
        ("DELETE", "/v1/templates/zzz", "invalid template id"),
        ("GET", "/v1/sandboxes/1-2-3", "invalid sandbox id"),
        ("POST", "/v1/sandboxes/not-a-uuid/stop", "invalid sandbox id"),
        ("GET", "/v1/sandboxes?projectId=abc", "invalid projectId query"),
        ("GET", "/v1/templates?projectId=abc", "invalid projectId query"),
        ("GET", "/v1/audit-events?resourceId=abc", "invalid resourceId query"),
    ],
)
def test_invalid_ids(client, row_counts, method, path, message):
    before = row_counts()
    response = client.request(method, path, json={})
    _assert_refused(response, 400, before, row_counts)
    assert response.json() == {"error": message}


@pytest.mark.parametrize(
    ("method", "path", "payload", "message"),
    [
        (
            "POST",
            "/v1/projects",
            {"name": "  ", "defaultNamespace": "ns"},
            "name, valid slug, and defaultNamespace are required",
        ),
        (
            "POST",
            "/v1/projects",
            {"name": "ok", "defaultNamespace": " "},
            "name, valid slug, and defaultNamespace are required",
        ),
        (
            "POST",
            "/v1/projects",
            {"name": "!!!", "defaultNamespace": "ns"},
            "name, valid slug, and defaultNamespace are required",
        ),
        (
            "POST",
            "/v1/projects",
            {"name": "a", "slug": "-bad-", "defaultNamespace": "ns"},
            "name, valid slug, and defaultNamespace are required",
        ),
        (
            "POST",
            "/v1/templates",
            {"name": "", "image": "i"},
            "name, valid slug, and image are required",
        ),
        (
            "POST",
            "/v1/sandboxes",
            {"projectId": "{project}", "name": " "},
            "projectId, name, and valid slug are required",
        ),
        ("POST", "/v1/sandboxes", {"name": "x"}, "projectId, name, and valid slug are required"),
        (
            "POST",
            "/v1/sandboxes",
            {"projectId": "nope", "name": "x"},
            "projectId must be a project UUID",
        ),
        ("PATCH", "/v1/sandboxes/{sandbox}", {"name": ""}, "name cannot be empty"),
    ],
)
def test_blank_and_invalid_values(client, world, row_counts, method, path, payload, message):
    payload = {k: v.format(**world) if isinstance(v, str) else v for k, v in payload.items()}
    before = row_counts()
    response = _send(client, method, path, world, json=payload)
    _assert_refused(response, 400, before, row_counts)
    assert response.json()["error"] == message
    assert response.json()["detail"]["field"]  # the console points at it


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("POST", "/v1/projects", {"name": "World", "defaultNamespace": "ns"}),
        ("POST", "/v1/templates", {"name": "Base", "image": "i"}),
        (
            "POST",
            "/v1/sandboxes",
            {"projectId": "{project}", "templateId": "{template}", "name": "Box"},
        ),
    ],
)
def test_duplicates(client, world, row_counts, method, path, payload):
    payload = {k: v.format(**world) for k, v in payload.items()}
    before = row_counts()
    _assert_refused(_send(client, method, path, world, json=payload), 409, before, row_counts)


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("GET", f"/v1/projects/{MISSING}", None),
        ("DELETE", f"/v1/sandboxes/{MISSING}", None),
        ("PATCH", f"/v1/templates/{MISSING}", {"name": "x"}),
        ("POST", "/v1/templates", {"name": "x", "image": "i", "projectId": MISSING}),
        ("POST", "/v1/sandboxes", {"projectId": MISSING, "name": "x"}),
        ("POST", "/v1/sandboxes", {"projectId": "{project}", "templateId": MISSING, "name": "x"}),
        ("PATCH", "/v1/projects/{project}", {"defaultTemplateId": MISSING}),
    ],
)
def test_references_to_missing_records(client, world, row_counts, method, path, payload):
    if payload:
        payload = {k: v.format(**world) for k, v in payload.items()}
    before = row_counts()
    _assert_refused(_send(client, method, path, world, json=payload), 404, before, row_counts)


@pytest.mark.parametrize(("method", "path"), WRITE_ROUTES)
def test_oversized_bodies(client, world, row_counts, method, path):
    before = row_counts()
    huge = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = _send(
        client, method, path, world, content=huge, headers={"Content-Type": "application/json"}
    )
    _assert_refused(response, 413, before, row_counts)

    def chunks():
        yield b'{"metadata": "'
        for _ in range(64):
            yield b"y" * 32 * 1024
        yield b'"}'

    streamed = _send(client, method, path, world, content=chunks())
    _assert_refused(streamed, 413, before, row_counts)


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("POST", "/v1/projects", {"name": "a\u0000b", "defaultNamespace": "ns"}),
        (
            "POST",
            "/v1/projects",
            {"name": "ab", "defaultNamespace": "ns", "metadata": {"k\u0000": 1}},
        ),
        ("PATCH", "/v1/templates/{template}", {"env": {"A": "\u0000"}}),
        ("GET", "/v1/audit-events?action=%00", None),
        ("GET", "/v1/projects/%00", None),
    ],
)
def test_nul_characters_are_refused(client, world, row_counts, method, path, payload):
    """Postgres cannot store U+0000; both databases refuse it the same way."""
    before = row_counts()
    response = _send(client, method, path, world, json=payload)
    _assert_refused(response, 400, before, row_counts)


@pytest.mark.parametrize(
    ("method", "path", "payload", "message"),
    [
        (
            "POST",
            "/v1/projects",
            {"name": "n" * 201, "defaultNamespace": "ns"},
            "name is too long (at most 200 characters)",
        ),
        ("POST", "/v1/templates", {"name": "t", "image": "i" * 5000}, "invalid JSON request body"),
        (
            "POST",
            "/v1/sandboxes",
            {"projectId": "{project}", "name": "x", "slug": "s" * 64},
            "projectId, name, and valid slug are required",
        ),
    ],
)
def test_overlong_values(client, world, row_counts, method, path, payload, message):
    payload = {k: v.format(**world) if isinstance(v, str) else v for k, v in payload.items()}
    before = row_counts()
    response = _send(client, method, path, world, json=payload)
    _assert_refused(response, 400, before, row_counts)
    assert response.json()["error"] == message


def test_long_names_derive_a_label_sized_slug(api):
    project = api.project(name="word " * 30)
    assert len(project["slug"]) <= 63 and not project["slug"].endswith("-")


@pytest.mark.parametrize("since", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+05:00"])
def test_out_of_range_timestamps(client, since):
    response = client.get("/v1/audit-events", params={"since": since})
    assert response.json() == {"error": "since must be an RFC3339 timestamp"}
