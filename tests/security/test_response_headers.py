"""Headers of what the API serves to browsers: workspace file downloads, and what the
public `/v1/info` tells an anonymous caller."""

from __future__ import annotations

import pytest

from tests.api.conftest import TOKEN

DOWNLOAD_CSP = "sandbox; default-src 'none'"


@pytest.fixture
def database_url(sqlite_template, tmp_path) -> str:
    """These attacks do not depend on the database: SQLite only."""
    import shutil

    target = tmp_path / "mbox.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite:///{target}"


async def test_workspace_file_downloads_are_never_rendered(world):
    """Attack: a sandbox writes `page.html` (a script) into its workspace and gets a user
    to open its download URL on the API origin, where a sniffed or rendered HTML page
    would run with the console's origin. Stopped by: file content is served like
    artifacts (one helper): `attachment`, `nosniff`, and a CSP `sandbox; default-src
    'none'`; a control character in the name cannot split the header."""
    sandbox = await world.running_sandbox()
    base = f"/v1/sandboxes/{sandbox['id']}/files/content"
    page = b"<html><script>fetch('/v1/projects')</script></html>"
    for name in ("page.html", "odd\r\nname.html"):
        written = await world.client.put(base, params={"path": f"web/{name}"}, content=page)
        assert written.status_code == 204, written.text
        response = await world.client.get(base, params={"path": f"web/{name}"})
        assert response.status_code == 200, response.text
        assert response.content == page
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["content-security-policy"] == DOWNLOAD_CSP
        assert headers["content-type"] == "application/octet-stream"
        disposition = headers["content-disposition"]
        assert disposition.startswith("attachment; filename=")
        assert "\r" not in disposition and "\n" not in disposition
    assert (
        'filename="page.html"'
        in (await world.client.get(base, params={"path": "web/page.html"})).headers[
            "content-disposition"
        ]
    )


async def test_artifact_downloads_keep_the_same_headers(world):
    """The artifact download uses the same helper (no drift between the two)."""
    from backend.api import artifacts, responses

    assert artifacts.SAFE_DOWNLOAD is responses.SAFE_DOWNLOAD
    assert responses.SAFE_DOWNLOAD["Content-Security-Policy"] == DOWNLOAD_CSP


def test_anonymous_info_tells_nothing_about_the_host(secured_client):
    """Attack: anyone who can reach the server reads `/v1/info` (public, for
    compatibility checks) and learns whether it runs as root ("one host uid per
    sandbox"), how sandboxes are isolated and limited, and why the runtime is down.
    Stopped by: an anonymous caller gets the compatibility fields only; the runtime's
    host details go to authenticated callers."""
    anonymous = secured_client.get("/v1/info")
    assert anonymous.status_code == 200
    info = anonymous.json()
    for runtime in (info["runtimeController"], info["runtimeAccess"]):
        assert set(runtime) <= {"enabled", "adapter"}, runtime
    text = anonymous.text.lower()
    for leak in ("uid", "root", "bubblewrap", "setrlimit", "slirp4netns", "apt-get"):
        assert leak not in text, leak
    assert info["apiVersion"] and info["capabilities"] and info["compatibility"]
    assert info["authenticationRequired"] is True
    wrong = secured_client.get("/v1/info", headers={"Authorization": "Bearer wrong"})
    assert "details" not in wrong.json()["runtimeController"]

    known = secured_client.get("/v1/info", headers={"Authorization": f"Bearer {TOKEN}"})
    details = known.json()["runtimeController"]["details"]
    assert details["isolation"] == "bubblewrap" and "uids" in details


def test_info_without_a_token_configured_keeps_its_details(client):
    """No token configured: every caller is the operator, the details stay."""
    info = client.get("/v1/info").json()
    assert info["runtimeAccess"]["details"]["isolation"] == "bubblewrap"
