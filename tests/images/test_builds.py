"""Template build recipes on the local runtime: a Debian base with packages and files,
built by the server (mmdebstrap from Debian's archive), its log, and sandboxes of it."""

from __future__ import annotations

import uuid

import pytest

from tests.runtime.conftest import World, run
from tests.support.roots import RECIPE


async def template_with(world: World, build: dict) -> dict:
    return await world.post(
        "/v1/templates", {"name": f"b {uuid.uuid4().hex[:6]}", "image": "app:1", "build": build}
    )


async def test_a_recipe_is_built_logged_and_run(world: World) -> None:
    template = await template_with(world, RECIPE)
    assert template["build"] == RECIPE
    project = await world.post("/v1/projects", {"name": "Builds", "defaultNamespace": "ns"})
    body = {"projectId": project["id"], "templateId": template["id"], "name": "built"}
    cached = (await world.get(f"/v1/templates/{template['id']}/build"))["state"] == "built"
    sandbox = await world.post("/v1/sandboxes", body)
    await world.reconciler.reconcile_once()
    building = await world.get(f"/v1/sandboxes/{sandbox['id']}")
    if not cached:  # the session's image cache may hold it already (tests/support/roots.py)
        assert (building["status"], building["statusReason"]) == ("pending", "building")
    running = await world.settle(sandbox["id"], "running", timeout=300)
    code, out, err = await run(
        world.runtime,
        uuid.UUID(running["id"]),
        "hello; cat /etc/mbox-motd; greet; id -u; touch ~/mine; cat /etc/mbox-run; "
        "stat -c %h /etc/mbox-run",
    )
    assert code == 0, err
    assert out.splitlines() == [
        "Hello, world!",
        "built by mbox",
        "hi from user in /home/user",
        "1000",
        "made by root in a run step",
        "2",  # a hard link made by a run step stays one file
    ]
    code, _, _ = await run(
        world.runtime, uuid.UUID(running["id"]), "ls /usr/bin/bwrap /usr/bin/skopeo"
    )
    assert code != 0, "the image's /usr, not the host's"
    build = await world.get(f"/v1/templates/{template['id']}/build")
    assert build["state"] == "built" and build["digest"].startswith("sha256:")
    assert "added /etc/mbox-motd (0644)" in build["log"] and "success" in build["log"]
    assert f"$ {RECIPE['verify']}\nHello, world!\nPython 3." in build["log"], build["log"]
    images = await world.get("/v1/images")
    (item,) = [item for item in images["items"] if item["digest"] == build["digest"]]
    assert item["references"] == [build["reference"]]


async def test_a_failed_build_says_why_and_keeps_its_log(world: World) -> None:
    template = await template_with(
        world, {"base": "debian:bookworm", "packages": ["mbox-no-such-package"]}
    )
    project = await world.post("/v1/projects", {"name": "Broken", "defaultNamespace": "ns"})
    body = {"projectId": project["id"], "templateId": template["id"], "name": "broken"}
    sandbox = await world.post("/v1/sandboxes", body)
    failed = await world.settle(sandbox["id"], "failed", timeout=300)
    assert failed["statusReason"] == "image-build-failed", failed
    assert "mbox-no-such-package" in failed["statusMessage"]
    build = await world.get(f"/v1/templates/{template['id']}/build")
    assert build["state"] == "failed" and "mbox-no-such-package" in build["log"]


@pytest.mark.parametrize(
    ("build", "words"),
    [
        ({"base": "ubuntu:jammy"}, "build.base must be debian:bookworm or debian:trixie"),
        ({"base": "debian:bookworm", "packages": ["Bad Name"]}, "is not a Debian package name"),
        (
            {"base": "debian:bookworm", "files": [{"path": "/proc/x", "content": ""}]},
            "not under /proc",
        ),
        (
            {"base": "debian:bookworm", "files": [{"path": "/a/../b", "content": ""}]},
            "without '..'",
        ),
        (
            {"base": "debian:bookworm", "files": [{"path": "/x", "content": "", "mode": "9"}]},
            "octal mode",
        ),
        ({"base": "debian:bookworm", "from": "alpine"}, 'unknown field "from"'),
        ({"base": "debian:bookworm", "run": "make"}, "build.run must be a list"),
        ({"base": "debian:bookworm", "run": [" "]}, "build.run[] must not be empty"),
        ({"base": "debian:bookworm", "run": ["x" * 5000]}, "build.run[] must be a shell command"),
        ({"base": "debian:bookworm", "verify": ["true"]}, "build.verify must be a shell"),
        ({"base": "debian:bookworm", "user": "admin"}, "build.user must be user or root"),
        ("debian", "build must be an object"),
    ],
)
async def test_bad_recipes_are_refused_in_words(world: World, build: object, words: str) -> None:
    response = await world.client.post(
        "/v1/templates", json={"name": "bad", "image": "x:1", "build": build}
    )
    assert response.status_code == 400, response.text
    assert words in response.json()["error"]
    listed = await world.get("/v1/templates")
    assert "bad" not in [item["name"] for item in listed["items"]], "nothing half-created"
