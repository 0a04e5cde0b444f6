"""Attacks on the host through a sandbox's writable layer or an image: the server makes
mount points there as root before each start, and must never follow a link it finds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend.runtime import rootfs
from backend.runtime.base import RuntimeFailure


def layers(tmp_path: Path) -> tuple[Path, Path]:
    lower, base = tmp_path / "image", tmp_path / "layer"
    (lower / "etc").mkdir(parents=True)
    base.mkdir()
    return lower, base


def prepare(lower: Path, base: Path, *mount_points: str, home: str = "") -> None:
    rootfs.prepare(lower, base, mount_points=list(mount_points), files=[], home=home, owner=4242)


def test_a_link_the_sandbox_planted_in_its_layer_is_refused(tmp_path: Path) -> None:
    """Attack: between runs, the writable layer holds `home -> <a host dir>`, so making
    /home/user/work as root would create (and chown) inside the host dir. Stopped by:
    the walk opens every component with O_NOFOLLOW and refuses a link in words."""
    lower, base = layers(tmp_path)
    target = tmp_path / "host-dir"
    target.mkdir()
    prepare(lower, base, "/proc")  # makes upper/
    os.symlink(target, base / rootfs.UPPER / "home")
    with pytest.raises(RuntimeFailure, match="link or file at /home/user"):
        prepare(lower, base, "/home/user/work", home="/home/user")
    assert list(target.iterdir()) == []


def test_a_link_in_the_image_is_never_followed(tmp_path: Path) -> None:
    """Attack: an image ships `workspace -> /etc` and `home -> /root`. Stopped by: the
    image is walked without following links; the layer gets real directories instead."""
    lower, base = layers(tmp_path)
    host = tmp_path / "host-etc"
    host.mkdir()
    os.symlink(host, lower / "workspace")
    os.symlink(host, lower / "home")
    prepare(lower, base, "/workspace", home="/home/user")
    upper = base / rootfs.UPPER
    assert (upper / "workspace").is_dir() and not (upper / "workspace").is_symlink()
    assert (upper / "home" / "user").stat().st_uid == 4242
    assert list(host.iterdir()) == []
