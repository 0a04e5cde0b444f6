"""Pulls through the API: a sandbox waits for its image (phase `pulling`), fails with a
reason that says which trouble it met, and the cache is listed at GET /v1/images."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.runtime.conftest import World
from tests.support.registry import ImageSpec, Registry, build_image, corrupt_layer, push


def pushed(tmp_path: Path, registry: Registry, name: str, **fields: object) -> tuple[str, str]:
    layout = build_image(tmp_path / name, ImageSpec(**fields))
    return registry.ref(name, "1"), push(layout, registry, name, "1")


async def failed_launch(world: World, image: str) -> dict:
    sandbox = await world.launch(image=image)
    return await world.settle(sandbox["id"], "failed")


async def test_a_pulled_image_is_listed_and_a_second_launch_hits_the_cache(
    world: World, registry: Registry, tmp_path: Path
) -> None:
    reference, digest = pushed(tmp_path, registry, "listed", env={"A": "1"})
    first = await world.running_sandbox(image=reference)
    listed = await world.get("/v1/images")
    assert listed["adapter"] == "local" and listed["kept"] is True
    (item,) = [item for item in listed["items"] if item["digest"] == digest]
    assert item["digest"] == digest and item["references"] == [reference]
    assert item["inUse"] is True and item["sizeBytes"] > 1_000_000
    boundary = await world.get(f"/v1/sandboxes/{first['id']}/boundary")
    assert boundary["imageDigest"] == digest and boundary["imageProjection"] == "pulled"
    (check,) = [check for check in boundary["checks"] if check["id"] == "image"]
    assert check["status"] == "pass" and digest in check["message"]
    events = await world.get(f"/v1/sandboxes/{first['id']}/events")
    assert any(event["reason"] == "Pulled" for event in events["items"]), events
    await world.running_sandbox(image=reference)
    again = await world.get("/v1/images")
    (same,) = [item for item in again["items"] if item["digest"] == digest]
    assert same["pulledAt"] == item["pulledAt"], "pulled once"


async def test_pull_failures_say_which_trouble(
    world: World, registry: Registry, private_registry: Registry, tmp_path: Path
) -> None:
    missing = await failed_launch(world, registry.ref("never-pushed", "1"))
    assert missing["statusReason"] == "image-not-found", missing
    assert "was not found in registry" in missing["statusMessage"]

    private, _ = pushed(tmp_path, private_registry, "private")
    refused = await failed_launch(world, private)
    assert refused["statusReason"] == "image-unauthorized", refused
    assert "refused access" in refused["statusMessage"]
    assert private_registry.password not in refused["statusMessage"]

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    unreachable = await failed_launch(world, f"127.0.0.1:{port}/nothing:1")
    assert unreachable["statusReason"] == "image-unreachable", unreachable
    assert f"registry 127.0.0.1:{port} is unreachable" in unreachable["statusMessage"]

    corrupt, _ = pushed(tmp_path, registry, "corrupt", files={"/data": "x" * 4096})
    layer = corrupt_layer(registry, "corrupt", "1")
    broken = await failed_launch(world, corrupt)
    assert broken["statusReason"] == "image-corrupt", broken
    assert "does not match its digest" in broken["statusMessage"]
    assert layer.split(":")[1][:12] in broken["statusMessage"]
    kept = (await world.get("/v1/images"))["items"]
    assert not [item for item in kept if corrupt in item["references"]], "nothing half-pulled"


async def test_a_private_image_pulls_with_the_projects_registry_credential(
    world: World, private_registry: Registry, settings, tmp_path: Path
) -> None:
    reference, _ = pushed(tmp_path, private_registry, "secret-app")
    secret = settings.secrets_dir / "registry-login"
    secret.mkdir(parents=True)
    (secret / "username").write_text(private_registry.username)
    (secret / "password").write_text(private_registry.password)
    project = await world.post("/v1/projects", {"name": "Private", "defaultNamespace": "ns"})
    await world.post(
        f"/v1/projects/{project['id']}/credentials",
        {
            "name": "Registry",
            "type": "registry",
            "target": private_registry.host,
            "secretRef": {"name": "registry-login"},
        },
    )
    template = await world.post("/v1/templates", {"name": "Private app", "image": reference})
    sandbox = await world.post(
        "/v1/sandboxes",
        {"projectId": project["id"], "templateId": template["id"], "name": "box"},
    )
    running = await world.settle(sandbox["id"], "running")
    assert running["status"] == "running"


def test_a_failure_is_classified_by_its_words_not_by_numbers_in_it() -> None:
    """A registry on port 40312 that is down is unreachable, not refused (the port holds
    "403"); a digest holding "401" does not make a missing image a refusal."""
    from backend.runtime.images import _failure

    down = "dial tcp 127.0.0.1:40312: connect: connection refused"
    missing = "reading manifest sha256:4014011 in 127.0.0.1:5000/x: manifest unknown"
    refused = "reading manifest 1 in 127.0.0.1:5000/x: unauthorized: authentication required"
    assert _failure("127.0.0.1:40312/x:1", down).reason == "unreachable"
    assert _failure("127.0.0.1:5000/x:1", missing).reason == "not-found"
    assert _failure("127.0.0.1:5000/x:1", refused).reason == "unauthorized"
