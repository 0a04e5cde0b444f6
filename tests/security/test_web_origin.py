"""Cross-origin HTTP: a page on another site drives the browser of someone who can reach
mbox (an open server on their machine, or a shared one they are signed in to). Against
the real server (`scripts/run`: Reflex with the API inside it) over real HTTP, once with
authentication off and once with a token."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.harness import ServerFailed, running_server

EVIL = "http://evil.example"
TOKEN = "origin-token-3b7e"
CROSS_SITE = ({"Origin": EVIL}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"})
REFUSED = {"error": "cross-origin requests are refused"}
SIGN_IN_COOKIE_PREFIX = "mbox_session"
NOT_JSON = {"error": "request body must be JSON (Content-Type: application/json)"}


@pytest.fixture(scope="module", params=["open", "secured"])
def api(request, tmp_path_factory) -> Iterator[httpx.Client]:
    """The real server, authentication off ("open") or on; the client authenticates like a
    program when there is a token (a browser page would carry the console's cookie)."""
    secured = request.param == "secured"
    data_dir = tmp_path_factory.mktemp(f"mbox-{request.param}")
    settings = {"MBOX_API_TOKEN": TOKEN} if secured else {}
    headers = {"Authorization": f"Bearer {TOKEN}"} if secured else {}
    try:
        with (
            running_server(data_dir, data_dir.parent / f"{request.param}.log", settings) as server,
            httpx.Client(base_url=server.url, headers=headers, timeout=15) as client,
        ):
            yield client
    except ServerFailed as exc:
        pytest.fail(str(exc), pytrace=False)


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {
        name: value
        for name, value in response.headers.items()
        if name.lower().startswith("access-control-")
    }


def project_payload() -> dict:
    return {"name": f"p {uuid.uuid4().hex[:8]}", "defaultNamespace": "ns"}


def project_names(api: httpx.Client) -> set[str]:
    return {item["name"] for item in api.get("/v1/projects").json()["items"]}


def test_foreign_origins_get_no_cors_headers(api):
    """Attack: a page on evil.example fetches the API, console pages or /healthz with
    credentials and reads the answer (Reflex's default CORS reflected any Origin with
    Allow-Credentials). Stopped by: no CORS header at all for an origin that is not in
    MBOX_ALLOWED_ORIGINS, on every path."""
    for path in ("/v1/projects", "/v1/images", "/v1/info", "/healthz", "/login", "/", "/_event/"):
        response = api.get(path, headers={"Origin": EVIL}, follow_redirects=False)
        assert not cors_headers(response), (path, response.headers)


def test_foreign_preflights_get_nothing(api):
    """Attack: a preflight from evil.example asks to send JSON with an Authorization
    header. Stopped by: a 403 JSON without any allow header, whatever the path."""
    preflight = {
        "Origin": EVIL,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    for path in ("/v1/projects", "/v1/sandboxes/x/tasks", "/login", "/_upload", "/projects"):
        response = api.options(path, headers=preflight)
        assert response.status_code == 403, path
        assert response.json() == REFUSED
        assert not cors_headers(response), (path, response.headers)


def test_foreign_origins_cannot_write(api):
    """Attack: evil.example's page submits forms or fetches (no preflight needed for
    forms and text/plain) that create, change and delete things, sign in or out. Stopped
    by: every state-changing method from a foreign Origin (`null` included) or marked
    `Sec-Fetch-Site: cross-site` is a 403 JSON, token or not; nothing changes."""
    project = api.post("/v1/projects", json=project_payload()).json()
    before = project_names(api)
    attempts = [
        ("POST", "/v1/projects", {"json": project_payload()}),
        ("PATCH", f"/v1/projects/{project['id']}", {"json": {"name": "hijacked"}}),
        ("DELETE", f"/v1/projects/{project['id']}", {}),
        ("PUT", f"/v1/artifacts/{uuid.uuid4()}/content", {"content": b"planted"}),
        ("POST", "/login", {"data": {"token": TOKEN, "next": "/"}}),
        ("POST", "/logout", {}),
    ]
    for method, path, body in attempts:
        for marker in CROSS_SITE:
            response = api.request(method, path, headers=marker, follow_redirects=False, **body)
            assert response.status_code == 403, (method, path, marker, response.text)
            assert response.json() == REFUSED
            assert SIGN_IN_COOKIE_PREFIX not in response.headers.get("set-cookie", "")
    assert project_names(api) == before
    assert api.get(f"/v1/projects/{project['id']}").json()["name"] == project["name"]


def test_simple_bodies_are_not_json(api):
    """Attack: a cross-site form posts JSON as text/plain (or urlencoded, multipart), which
    browsers send without a preflight; the API parsed JSON whatever the Content-Type.
    Stopped by: JSON routes take only application/json or +json (415 otherwise)."""
    before = project_names(api)
    payload = json.dumps(project_payload())
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        response = api.post("/v1/projects", content=payload, headers={"Content-Type": content_type})
        assert response.status_code == 415, content_type
        assert response.json() == NOT_JSON
    assert project_names(api) == before


def test_programs_and_the_console_origin_keep_writing(api):
    """What must keep working: programs (no Origin header), the console's own origin, and
    JSON sent as `+json`."""
    own = str(api.base_url).rstrip("/")
    assert api.post("/v1/projects", json=project_payload()).status_code == 201
    same_origin = api.post(
        "/v1/projects",
        content=json.dumps(project_payload()),
        headers={"Origin": own, "Content-Type": "application/vnd.mbox+json; charset=utf-8"},
    )
    assert same_origin.status_code == 201, same_origin.text
    assert not cors_headers(same_origin)
