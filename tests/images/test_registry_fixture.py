"""The test registry and image builder themselves: what image cache tests rely on."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.registry import ImageSpec, Registry, build_image, corrupt_layer, push


def skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["skopeo", "--insecure-policy", *args], capture_output=True, text=True, timeout=60
    )


def inspect(ref: str, *extra: str) -> dict:
    result = skopeo("inspect", "--tls-verify=false", *extra, f"docker://{ref}")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_pushed_image_has_its_config_layers_and_digest(registry: Registry, tmp_path: Path):
    spec = ImageSpec(
        files={"/app/hello.txt": "hello\n", "/app/bin/run": "#!/bin/sh\necho hi\n"},
        env={"GREETING": "hi there"},
        user="1234:1234",
        working_dir="/app",
        cmd=("/app/bin/run",),
        layers=2,
    )
    digest = push(build_image(tmp_path, spec), registry, "fixture/config", "v1")
    ref = registry.ref("fixture/config", "v1")
    summary = inspect(ref)
    assert summary["Digest"] == digest
    assert digest.startswith("sha256:")
    assert len(summary["Layers"]) == 2
    # The summary has Env only; User and WorkingDir are in the image config.
    config = inspect(ref, "--config")["config"]
    assert "GREETING=hi there" in config["Env"]
    assert config["User"] == "1234:1234"
    assert config["WorkingDir"] == "/app"
    assert config["Cmd"] == ["/app/bin/run"]
    by_digest = inspect(f"{registry.host}/fixture/config@{digest}")
    assert by_digest["Digest"] == digest


def test_image_contents_modes_and_owners(registry: Registry, tmp_path: Path):
    spec = ImageSpec(files={"/app/data.txt": b"data", "/app/tool": "#!/bin/sh\n"}, layers=3)
    push(build_image(tmp_path / "build", spec), registry, "fixture/contents")
    out = tmp_path / "pulled"
    result = skopeo(
        "copy",
        "--src-tls-verify=false",
        f"docker://{registry.ref('fixture/contents')}",
        f"oci:{out}:x",
    )
    assert result.returncode == 0, result.stderr
    listing = subprocess.run(
        ["umoci", "list", "--layout", str(out)], capture_output=True, text=True, check=True
    )
    assert listing.stdout.split() == ["x"]
    bundle = tmp_path / "bundle"
    subprocess.run(
        ["umoci", "unpack", "--image", f"{out}:x", str(bundle)], capture_output=True, check=True
    )
    rootfs = bundle / "rootfs"
    assert (rootfs / "app/data.txt").read_bytes() == b"data"
    assert (rootfs / "app/data.txt").stat().st_mode & 0o7777 == 0o644
    assert (rootfs / "app/tool").stat().st_mode & 0o7777 == 0o755
    assert (rootfs / "tmp").stat().st_mode & 0o7777 == 0o1777
    home = (rootfs / "home/user").stat()
    assert (home.st_uid, home.st_gid) == (1234, 1234)
    assert (rootfs / "bin/sh").resolve().name == "busybox"
    assert "user:x:1234:1234:" in (rootfs / "etc/passwd").read_text()
    assert len(inspect(registry.ref("fixture/contents"))["Layers"]) == 3


def test_private_registry_needs_credentials(private_registry: Registry, tmp_path: Path):
    digest = push(build_image(tmp_path, ImageSpec()), private_registry, "private/app")
    ref = f"docker://{private_registry.ref('private/app')}"
    refused = skopeo("inspect", "--tls-verify=false", "--no-creds", ref)
    assert refused.returncode != 0
    assert "unauthorized" in refused.stderr.lower() or "authenticat" in refused.stderr.lower()
    wrong = skopeo("inspect", "--tls-verify=false", "--creds", "nobody:wrong", ref)
    assert wrong.returncode != 0
    creds = f"{private_registry.username}:{private_registry.password}"
    accepted = skopeo("inspect", "--tls-verify=false", "--creds", creds, ref)
    assert accepted.returncode == 0, accepted.stderr
    assert json.loads(accepted.stdout)["Digest"] == digest


def test_corrupted_layer_fails_the_pull_with_a_digest_error(registry: Registry, tmp_path: Path):
    spec = ImageSpec(files={"/corrupt-me.txt": "x" * 1000}, layers=2)
    push(build_image(tmp_path, spec), registry, "fixture/corrupt")
    layer = corrupt_layer(registry, "fixture/corrupt")
    assert inspect(registry.ref("fixture/corrupt"))["Layers"][-1] == layer
    result = skopeo(
        "copy",
        "--src-tls-verify=false",
        f"docker://{registry.ref('fixture/corrupt')}",
        f"oci:{tmp_path / 'pulled'}:x",
    )
    assert result.returncode != 0
    assert "digest" in result.stderr.lower(), result.stderr
    assert layer in result.stderr


def test_two_images_differ(registry: Registry, tmp_path: Path):
    first = push(build_image(tmp_path, ImageSpec(files={"/id": "one"})), registry, "two/a")
    second = push(build_image(tmp_path, ImageSpec(files={"/id": "two"})), registry, "two/b")
    assert first != second
    layers_a = inspect(registry.ref("two/a"))["Layers"]
    layers_b = inspect(registry.ref("two/b"))["Layers"]
    assert layers_a[-1] != layers_b[-1]


def test_corrupt_layer_refuses_a_layer_shared_with_another_repository(
    registry: Registry, tmp_path: Path
):
    layout = build_image(tmp_path, ImageSpec(files={"/shared": "same"}))
    push(layout, registry, "shared/one")
    push(layout, registry, "shared/two")
    with pytest.raises(ValueError, match="shared/two"):
        corrupt_layer(registry, "shared/one")
