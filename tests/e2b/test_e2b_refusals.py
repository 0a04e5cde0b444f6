"""What E2B callers may not do: another project's sandbox, a key without rights, a
forged or foreign access token."""

from __future__ import annotations

import httpx
import pytest
from e2b import Sandbox
from e2b.exceptions import AuthenticationException, NotFoundException, SandboxException

from mbox import Mbox
from tests.e2b.conftest import E2BProject, make_project
from tests.support.live import LiveServer


@pytest.fixture(scope="module")
def other(admin: Mbox) -> E2BProject:
    return make_project(admin)


@pytest.fixture(scope="module")
def auditor(admin: Mbox, e2b_project: E2BProject) -> str:
    created = admin.tokens.create(
        "e2b auditor", role="auditor", principal="e2b-auditor",
        project_ids=[e2b_project.project_id],
    )  # fmt: skip
    return created.token


def test_another_projects_sandbox_is_not_found(e2b_env: E2BProject, other: E2BProject) -> None:
    sb = Sandbox.create(template=e2b_env.template, timeout=60)
    try:
        with pytest.raises(NotFoundException):
            Sandbox.get_info(sb.sandbox_id, api_key=other.api_key)
        assert Sandbox.kill(sb.sandbox_id, api_key=other.api_key) is False
        with pytest.raises(NotFoundException):
            Sandbox.connect(sb.sandbox_id, api_key=other.api_key)
    finally:
        sb.kill()


def test_an_auditor_cannot_launch(e2b_env: E2BProject, auditor: str) -> None:
    with pytest.raises(SandboxException, match="403"):
        Sandbox.create(template=e2b_env.template, api_key=auditor)


def test_access_tokens_are_per_sandbox_and_checked(e2b_env: E2BProject, live: LiveServer) -> None:
    one = Sandbox.create(template=e2b_env.template, timeout=60)
    two = Sandbox.create(template=e2b_env.template, timeout=60)
    try:
        url = f"{live.url}/process.Process/List"
        headers = {"E2b-Sandbox-Id": two.sandbox_id, "E2b-Sandbox-Port": "49983"}
        body, kind = "{}", {"Content-Type": "application/json"}
        for token in ("", "mbxs_forged.0000", one._envd_access_token):
            answer = httpx.post(
                url, headers={**headers, **kind, "X-Access-Token": token or ""}, content=body
            )
            assert answer.status_code == 401, answer.text
        good = {**headers, **kind, "X-Access-Token": two._envd_access_token}
        assert httpx.post(url, headers=good, content=body).status_code == 200
    finally:
        one.kill()
        two.kill()


def test_a_wrong_key_gets_the_sdks_authentication_error(e2b_env: E2BProject) -> None:
    with pytest.raises(AuthenticationException):
        Sandbox.list(api_key="mbx_" + "0" * 40).next_items()


def test_revoking_the_key_ends_its_access_tokens(admin: Mbox, e2b_env: E2BProject) -> None:
    created = admin.tokens.create(
        "e2b short-lived", role="developer", principal="e2b-short",
        project_ids=[e2b_env.project_id],
    )  # fmt: skip
    sb = Sandbox.create(template=e2b_env.template, timeout=60, api_key=created.token)
    try:
        assert sb.commands.run("echo before").stdout == "before\n"
        admin.tokens.revoke(created.id)
        with pytest.raises(Exception, match=r"(?i)access.token"):
            sb.commands.run("echo after")
    finally:
        Sandbox.kill(sb.sandbox_id)


def test_another_site_cannot_drive_the_e2b_api(live: LiveServer, e2b_env: E2BProject) -> None:
    """A page elsewhere can make a browser send a simple POST (no preflight, no custom
    headers): refused before it reaches E2B's routes, and nothing is created."""
    before = Sandbox.list().next_items()
    answer = httpx.post(
        f"{live.url}/v2/sandboxes",
        content=f'{{"templateID": "{e2b_env.template}"}}',
        headers={"Origin": "http://evil.example", "Content-Type": "text/plain"},
    )
    assert answer.status_code in (401, 403), answer.text
    preflight = httpx.options(
        f"{live.url}/v2/sandboxes",
        headers={
            "Origin": "http://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert Sandbox.list().next_items() == before


def test_a_quota_is_the_sdks_rate_limit_and_a_policy_its_refusal(
    admin: Mbox, e2b_env: E2BProject
) -> None:
    """Launch policy and quotas apply to E2B creates as to any: a quota reached is E2B's
    429 (RateLimitException), a policy refusal a 403 that names the rule."""
    from e2b.exceptions import RateLimitException

    project = make_project(admin)
    env = {"api_key": project.api_key}
    admin.projects.set_quota_policy(
        project.project_id, enforcement="enforced", max_active_sandboxes=1
    )
    first = Sandbox.create(template=project.template, timeout=60, **env)
    try:
        with pytest.raises(RateLimitException, match="maxActiveSandboxes"):
            Sandbox.create(template=project.template, timeout=60, **env)
    finally:
        first.kill()
    admin.projects.set_quota_policy(project.project_id, enforcement="disabled")
    admin.projects.set_policy(
        project.project_id, enforcement="enforced", allowed_image_prefixes=["registry.example/"]
    )
    with pytest.raises(SandboxException, match=r"403.*allowed"):
        Sandbox.create(template=project.template, timeout=60, **env)
    assert Sandbox.list(**env).next_items() == []


def test_another_site_cannot_reach_a_sandboxs_envd(live: LiveServer) -> None:
    """Naming a sandbox takes custom headers: a page elsewhere would need a preflight,
    which gets no CORS grant, so the browser never sends the request."""
    preflight = httpx.options(
        f"{live.url}/process.Process/Start",
        headers={
            "Origin": "http://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "e2b-sandbox-id,x-access-token,content-type",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-headers" not in preflight.headers
