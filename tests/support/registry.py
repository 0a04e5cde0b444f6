"""A real OCI registry on loopback and small test images, all built locally.

The registry is Debian's docker-registry (distribution 2.8) with filesystem storage; images
are built with umoci (rootful, so the ownership set in the unpacked rootfs is kept) from the
host's busybox-static and pushed with skopeo. Nothing talks to anything but 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import pytest

REGISTRY_BIN = Path("/usr/bin/docker-registry")
HOST_BUSYBOX = Path("/bin/busybox")
START_TIMEOUT = 15.0
START_ATTEMPTS = 5

BUSYBOX_APPLETS = (
    "sh", "ash", "ls", "cat", "id", "env", "sleep", "echo", "touch", "mkdir", "pwd",
    "whoami", "true", "false", "printf", "test", "[", "rm", "cp", "mv", "ln", "chmod",
    "wc", "head", "tail", "grep", "sed", "stat", "ps", "kill", "uname", "hostname",
    "date", "find", "xargs", "sort", "tr", "cut", "tee", "readlink", "basename",
    "dirname", "du", "df",
)  # fmt: skip
USER_ID = 1234


@dataclass(frozen=True)
class Registry:
    host: str
    storage: Path
    username: str = ""
    password: str = ""

    def ref(self, repository: str, tag: str = "latest") -> str:
        return f"{self.host}/{repository}:{tag}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _v2_status(host: str) -> int | None:
    # No proxies: a proxy from the environment must not see loopback traffic.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://{host}/v2/", timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _config(directory: Path, port: int, htpasswd: Path | None) -> str:
    lines = [
        "version: 0.1",
        "log:",
        "  level: info",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {directory / 'storage'}",
        "http:",
        f"  addr: 127.0.0.1:{port}",
        # A fixed secret silences the "generated a random secret" warning; one instance only.
        f"  secret: {secrets.token_hex(16)}",
    ]
    if htpasswd is not None:
        lines += ["auth:", "  htpasswd:", "    realm: mbox-test", f"    path: {htpasswd}"]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def running_registry(directory: Path, *, auth: bool = False) -> Iterator[Registry]:
    """docker-registry on a free loopback port with storage under directory; with auth,
    htpasswd (bcrypt) with a random user and password. Stopped on exit."""
    if not REGISTRY_BIN.exists():
        pytest.fail(
            f"{REGISTRY_BIN} not found: install it with `apt-get install docker-registry`",
            pytrace=False,
        )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "storage").mkdir(exist_ok=True)
    username = password = ""
    htpasswd = None
    if auth:
        username = f"user{secrets.token_hex(4)}"
        password = secrets.token_urlsafe(18)
        htpasswd = directory / "htpasswd"
        # Cheapest cost: the registry checks the hash on every request.
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
        htpasswd.write_text(f"{username}:{hashed}\n")
    config = directory / "config.yml"
    log = directory / "registry.log"
    expected = 401 if auth else 200
    failure = ""
    # The free port can be taken between choosing and binding it: then try another.
    for _attempt in range(START_ATTEMPTS):
        port = _free_port()
        config.write_text(_config(directory, port, htpasswd))
        with log.open("ab") as log_file:
            process = subprocess.Popen(
                [str(REGISTRY_BIN), "serve", str(config)],
                cwd=directory,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        host = f"127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT
        status = None
        while process.poll() is None and time.monotonic() < deadline:
            status = _v2_status(host)
            if status is not None:
                break
            time.sleep(0.02)
        if status == expected and process.poll() is None:
            try:
                yield Registry(host, directory / "storage", username, password)
            finally:
                _stop(process)
            return
        _stop(process)
        failure = f"GET /v2/ on {host} gave {status}, expected {expected}"
        failure += f" (exit code {process.returncode})"
        if process.returncode not in (None, 0) and "address already in use" in _log_tail(log):
            continue
        break
    raise RuntimeError(f"docker-registry did not start: {failure}\n{_log_tail(log)}")


@dataclass(frozen=True)
class ImageSpec:
    files: Mapping[str, bytes | str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    user: str = ""
    working_dir: str = ""
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    busybox: bool = True
    layers: int = 1


def _umoci(*args: str) -> None:
    result = subprocess.run(["umoci", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"umoci {' '.join(args)} failed: {result.stderr.strip()}")


def _write(rootfs: Path, path: str, content: bytes | str) -> None:
    if not path.startswith("/"):
        raise ValueError(f"image file paths must be absolute: {path!r}")
    data = content.encode() if isinstance(content, str) else content
    target = rootfs / path.lstrip("/")
    _make_dirs(rootfs, target.parent)
    target.write_bytes(data)
    executable = target.parent.name in ("bin", "sbin") or data.startswith(b"#!")
    os.chmod(target, 0o755 if executable else 0o644)


def _make_dirs(rootfs: Path, directory: Path) -> None:
    # Parents 0755 whatever the umask, so image contents do not depend on the test process.
    missing = []
    while directory != rootfs and not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for each in reversed(missing):
        each.mkdir()
        os.chmod(each, 0o755)


def _add_base(rootfs: Path) -> None:
    _make_dirs(rootfs, rootfs / "bin")
    shutil.copyfile(HOST_BUSYBOX, rootfs / "bin/busybox")
    os.chmod(rootfs / "bin/busybox", 0o755)
    for applet in BUSYBOX_APPLETS:
        os.symlink("busybox", rootfs / "bin" / applet)
    _make_dirs(rootfs, rootfs / "usr/bin")
    os.symlink("/bin/busybox", rootfs / "usr/bin/env")
    _write(
        rootfs,
        "/etc/passwd",
        f"root:x:0:0:root:/root:/bin/sh\nuser:x:{USER_ID}:{USER_ID}:user:/home/user:/bin/sh\n",
    )
    _write(rootfs, "/etc/group", f"root:x:0:\nuser:x:{USER_ID}:\n")
    for directory, mode in (("tmp", 0o1777), ("root", 0o700), ("home/user", 0o755)):
        _make_dirs(rootfs, rootfs / directory)
        os.chmod(rootfs / directory, mode)
    os.chown(rootfs / "home/user", USER_ID, USER_ID)


def _split(items: list[tuple[str, bytes | str]], parts: int) -> list[list[tuple[str, bytes | str]]]:
    size, extra = divmod(len(items), parts)
    chunks, start = [], 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        chunks.append(items[start:end])
        start = end
    return chunks


def build_image(workdir: Path, spec: ImageSpec) -> Path:
    """An OCI image layout (tag "latest") under workdir built with umoci; returns its path."""
    if spec.layers < 1:
        raise ValueError("an image needs at least one layer")
    if spec.busybox and not HOST_BUSYBOX.exists():
        pytest.fail(f"{HOST_BUSYBOX} not found: `apt-get install busybox-static`", pytrace=False)
    files = list(spec.files.items())
    # umoci repack of an unchanged rootfs adds no layer, so every layer needs some content.
    file_layers = spec.layers - 1 if spec.busybox else spec.layers
    if spec.layers > 1 and len(files) < file_layers:
        raise ValueError(f"{spec.layers} layers need {file_layers}+ files, got {len(files)}")
    workdir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="image-", dir=workdir))
    layout, bundle = root / "oci", root / "bundle"
    image = f"{layout}:latest"
    _umoci("init", "--layout", str(layout))
    _umoci("new", "--image", image)
    _umoci("unpack", "--image", image, str(bundle))
    rootfs = bundle / "rootfs"
    if spec.busybox:
        _add_base(rootfs)
        if spec.layers > 1:
            # The base is a layer of its own: pack it before the files.
            _umoci("repack", "--refresh-bundle", "--image", image, str(bundle))
            chunks = _split(files, spec.layers - 1)
        else:
            chunks = [files]
    else:
        chunks = _split(files, spec.layers)
    for chunk in chunks:
        for path, content in chunk:
            _write(rootfs, path, content)
        # --refresh-bundle: the next repack diffs against this one, making one layer each.
        _umoci("repack", "--refresh-bundle", "--image", image, str(bundle))
    config: list[str] = []
    for key, value in spec.env.items():
        config += ["--config.env", f"{key}={value}"]
    if spec.user:
        config += ["--config.user", spec.user]
    if spec.working_dir:
        config += ["--config.workingdir", spec.working_dir]
    for part in spec.entrypoint:
        config += ["--config.entrypoint", part]
    for part in spec.cmd:
        config += ["--config.cmd", part]
    if config:
        _umoci("config", "--image", image, *config)
    # Intermediate manifests of each repack are orphans now; skopeo would ignore them anyway.
    _umoci("gc", "--layout", str(layout))
    shutil.rmtree(bundle)
    return layout


def _skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    # --insecure-policy: the host's /etc/containers/policy.json must not decide what tests push.
    result = subprocess.run(
        ["skopeo", "--insecure-policy", *args], capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise RuntimeError(f"skopeo {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def push(layout: Path, registry: Registry, repository: str, tag: str = "latest") -> str:
    """skopeo copy of the layout's "latest" to registry/repository:tag; returns the manifest
    digest ("sha256:...") as pushed."""
    with tempfile.TemporaryDirectory() as scratch:
        digestfile = Path(scratch) / "digest"
        args = ["copy", "--dest-tls-verify=false", "--digestfile", str(digestfile)]
        if registry.username:
            args += ["--dest-creds", f"{registry.username}:{registry.password}"]
        _skopeo(*args, f"oci:{layout}:latest", f"docker://{registry.ref(repository, tag)}")
        return digestfile.read_text().strip()


def _blob(registry: Registry, digest: str) -> Path:
    algorithm, hex_digest = digest.split(":", 1)
    blobs = registry.storage / "docker/registry/v2/blobs"
    return blobs / algorithm / hex_digest[:2] / hex_digest / "data"


def corrupt_layer(registry: Registry, repository: str, tag: str = "latest") -> str:
    """Overwrite the last layer blob of repository:tag in the registry's storage with other
    bytes of the same length; returns that layer's digest."""
    repositories = registry.storage / "docker/registry/v2/repositories"
    link = repositories / repository / "_manifests/tags" / tag / "current/link"
    manifest = json.loads(_blob(registry, link.read_text().strip()).read_bytes())
    digest = manifest["layers"][-1]["digest"]
    # Blobs are shared by content: refuse to silently break another repository's image too.
    hex_digest = digest.split(":", 1)[1]
    users = {
        str(path.relative_to(repositories)).split("/_layers/")[0]
        for path in repositories.rglob(f"_layers/sha256/{hex_digest}/link")
    }
    if users - {repository}:
        raise ValueError(f"layer {digest} is shared with {sorted(users - {repository})}")
    blob = _blob(registry, digest)
    data = blob.read_bytes()
    # Every byte inverted: same length (so the size checks pass), certainly other content.
    blob.write_bytes(data.translate(bytes(range(255, -1, -1))))
    if hashlib.sha256(blob.read_bytes()).hexdigest() == hex_digest:
        raise AssertionError("corrupting the layer left its digest unchanged")
    return digest
