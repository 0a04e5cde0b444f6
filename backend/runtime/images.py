"""The local runtime's image cache: OCI images pulled, unpacked and kept on this host.

Pulled by `skopeo` (the registry protocol, credentials, digest checks) into one OCI
layout shared by every image, so a layer two images share is stored once; unpacked by
`umoci` into `rootfs/<manifest digest>/` (a runtime bundle: `rootfs/` and `config.json`,
where umoci has already resolved the image's user to uids). A sandbox never writes there:
it runs on an overlay whose lower layer is that tree (see `rootfs.py`).

Keys are manifest digests; the index (`index.json`) maps each reference pulled to its
digest and records sizes and last use. `IfNotPresent` (the default, like Kubernetes, for
tags other than `latest`) answers from the index without the network; `Always` asks the
registry which digest the tag names now. Past `max_bytes`, the least recently used images
no sandbox uses are removed (their blobs too, once no image needs them).

One file lock serializes pulls, unpacks and evictions, also between servers sharing the
directory (tests, a restart while a pull runs).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import fcntl
import hashlib
import ipaddress
import json
import os
import platform
import re
import secrets
import shutil
import socket
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from backend.runtime import jail
from backend.runtime.base import RuntimeFailure

TOOLS = ("skopeo", "umoci")
LAYOUT = "oci"  # the OCI layout every pull copies into (blobs shared)
BUNDLES = "rootfs"  # rootfs/<digest hex>/{rootfs,config.json}
INDEX = "index.json"
BUILDS = "builds"  # builds/<recipe digest hex>.log: each build's output
BUILD_PREFIX = "build:"  # a built image's reference: build:<recipe digest>
# Bump when a build's result changes for the same recipe (new files, other options).
BUILD_FORMAT = "mbox-build-1"
BUILD_USER_UID = 1000
BUILD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# A run step's environment (HOME added: /root, or the user's for `verify`).
BUILD_ENV = {"PATH": BUILD_PATH, "DEBIAN_FRONTEND": "noninteractive", "LANG": "C.UTF-8"}
# What mmdebstrap leaves out of a build: documentation and translations.
BUILD_EXCLUDES = (
    "/usr/share/doc/*",
    "/usr/share/man/*",
    "/usr/share/locale/*",
    "/usr/share/info/*",
)
IMAGE_CONFIG = "image.json"  # in a bundle: what `ImageConfig` holds, saved at unpack
LOCK = ".lock"
HOST_IMAGE = "host"  # not an image: this machine's own read-only /usr (local runtime only)
INDEXES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
ARCHITECTURES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}
PROGRESS_SECONDS = 0.25
# No signature policy is configured: the digests are the check (what Kubernetes does too).
POLICY = () if Path("/etc/containers/policy.json").exists() else ("--insecure-policy",)
HELPER_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"}
# What skopeo says, and what it means for the user (first match wins).
FAILURES = (
    (re.compile(r"digest did not match|does not match digest|digest mismatch", re.I), "corrupt"),
    # Words, not bare status numbers: "401" is also part of a port or a digest.
    (re.compile(r"unauthorized|authentication required|forbidden|denied", re.I), "unauthorized"),
    (re.compile(r"manifest unknown|name unknown|not found", re.I), "not-found"),
    (
        re.compile(
            r"connection refused|no such host|i/o timeout|dial tcp|network is unreachable|"
            r"server gave HTTP response to HTTPS|timeout|TLS",
            re.I,
        ),
        "unreachable",
    ),
)


class ImageFailure(RuntimeFailure):
    """An image could not be had; `reason` says which kind of trouble (for the UI)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class RegistryAuth:
    """Credentials for one registry host (from a project credential of type `registry`)."""

    registry: str
    username: str
    password: str = field(repr=False)


@dataclass
class Progress:
    """A pull as it goes: what is happening and how many bytes of how many."""

    step: str = "resolving"  # resolving | pulling | unpacking | building | ready
    done: int = 0
    total: int = 0

    def text(self, reference: str) -> str:
        if self.step == "building":
            return f"building {reference} (packages from Debian's archive)"
        if self.step == "pulling" and self.total:
            return f"pulling {reference}: {_mib(self.done)} of {_mib(self.total)}"
        return f"{self.step} {reference}"


@dataclass(frozen=True)
class ImageConfig:
    """What the image says about running it (umoci's runtime config, users resolved)."""

    args: tuple[str, ...]  # ENTRYPOINT + CMD
    env: Mapping[str, str]
    working_dir: str
    uid: int
    gid: int


@dataclass(frozen=True)
class CachedImage:
    digest: str  # sha256:<hex> of the manifest
    references: tuple[str, ...]
    size_bytes: int
    pulled_at: float
    last_used_at: float
    bundle: Path

    @property
    def rootfs(self) -> Path:
        return self.bundle / "rootfs"

    def config(self) -> ImageConfig:
        saved = json.loads((self.bundle / IMAGE_CONFIG).read_text())
        return ImageConfig(
            args=tuple(saved["args"]),
            env=saved["env"],
            working_dir=saved["workingDir"],
            uid=saved["uid"],
            gid=saved["gid"],
        )


def is_host(reference: str) -> bool:
    return reference.strip().lower() == HOST_IMAGE


def supported() -> str:
    """ "" when pulls can work here, else what to install."""
    missing = [tool for tool in TOOLS if shutil.which(tool, path=HELPER_ENV["PATH"]) is None]
    return (
        f"{', '.join(missing)} not found (apt-get install {' '.join(missing)})" if missing else ""
    )


def default_policy(reference: str) -> str:
    """Kubernetes' rule: `Always` for `:latest` or no tag, else `IfNotPresent`."""
    if "@" in reference:
        return "IfNotPresent"
    _, tag = _split_tag(reference)
    return "Always" if tag in ("", "latest") else "IfNotPresent"


class ImageStore:
    def __init__(
        self, root: Path, max_bytes: int = 0, insecure_registries: tuple[str, ...] = ()
    ) -> None:
        self.root = root
        self.max_bytes = max_bytes  # 0: no limit
        self.insecure = frozenset(insecure_registries)
        self._pulls: dict[str, asyncio.Future[CachedImage]] = {}

    # -- reading ------------------------------------------------------------------------

    def images(self) -> list[CachedImage]:
        index = self._read_index()
        return sorted(
            (self._cached(digest, entry) for digest, entry in index["images"].items()),
            key=lambda image: -image.last_used_at,
        )

    def cached(self, reference: str) -> CachedImage | None:
        index = self._read_index()
        digest = index["refs"].get(reference)
        entry = index["images"].get(digest or "")
        if entry is None or not (self._bundle(digest) / IMAGE_CONFIG).exists():
            return None
        return self._cached(digest, entry)

    def running(self, reference: str) -> bool:
        """Whether a pull or build of `reference` runs in this process."""
        return reference in self._pulls

    # -- pulling ------------------------------------------------------------------------

    async def pull(
        self,
        reference: str,
        *,
        policy: str = "",
        auth: RegistryAuth | None = None,
        progress: Progress | None = None,
        in_use: Callable[[], set[str]] = set,
    ) -> CachedImage:
        """The image `reference` names, from the cache or the registry (one pull at a time
        per reference: later callers wait for it)."""
        reference = reference.strip()
        policy = policy or default_policy(reference)
        progress = progress or Progress()
        if policy != "Always" and (hit := self.cached(reference)):
            return self._touch(hit)
        if policy == "Never":
            raise ImageFailure("not-found", f"image {reference} is not cached (pull policy Never)")
        return await self._once(reference, lambda: self._pull(reference, auth, progress, in_use))

    async def _once(
        self, reference: str, make: Callable[[], Coroutine[Any, Any, CachedImage]]
    ) -> CachedImage:
        """`make()`, unless a pull or build of `reference` already runs here: then its
        result (a caller that gives up does not cancel it for the others)."""
        running = self._pulls.get(reference)
        if running is None:
            running = asyncio.ensure_future(make())
            self._pulls[reference] = running
            running.add_done_callback(lambda _: self._pulls.pop(reference, None))
        return await asyncio.shield(running)

    async def _recorded(
        self, digest: str, reference: str, in_use: Callable[[], set[str]]
    ) -> CachedImage:
        """Index the bundle of `digest` under `reference`, then evict what no longer fits
        (the lock held)."""
        index = self._read_index()
        entry = index["images"].setdefault(digest, {"pulledAt": time.time()})
        entry["size"] = await asyncio.to_thread(self._size, digest)
        entry["references"] = sorted({*entry.get("references", ()), reference})
        index["refs"][reference] = digest
        self._write_index(index)
        await self._evict(index, keep={digest, *in_use()})
        return self._touch(self._cached(digest, entry))

    async def _pull(
        self,
        reference: str,
        auth: RegistryAuth | None,
        progress: Progress,
        in_use: Callable[[], set[str]],
    ) -> CachedImage:
        await self._check_registry(reference)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._authfile(auth) as authfile:
            digest, total = await self._resolve(reference, authfile)
            async with self._locked():
                # A bundle appears whole (renamed into place) and is never replaced: one
                # may be a running sandbox's root.
                if not (self._bundle(digest) / IMAGE_CONFIG).exists():
                    progress.step, progress.total = "pulling", total
                    await self._copy(reference, digest, authfile, progress)
                    progress.step = "unpacking"
                    await self._unpack(digest)
                image = await self._recorded(digest, reference, in_use)
        progress.step = "ready"
        return image

    # -- building -----------------------------------------------------------------------

    async def build(
        self,
        recipe: Mapping[str, Any],
        *,
        progress: Progress | None = None,
        in_use: Callable[[], set[str]] = set,
    ) -> CachedImage:
        """The image a build recipe makes (see backend.templates: base, packages, files,
        user), from the cache or built now; its output is kept at `build_log`."""
        reference = build_reference(recipe)
        if hit := self.cached(reference):
            return self._touch(hit)
        progress = progress or Progress()
        return await self._once(reference, lambda: self._build(reference, recipe, progress, in_use))

    def build_log(self, recipe: Mapping[str, Any]) -> Path:
        return self.root / BUILDS / f"{_hex(build_reference(recipe)[len(BUILD_PREFIX) :])}.log"

    async def _build(
        self,
        reference: str,
        recipe: Mapping[str, Any],
        progress: Progress,
        in_use: Callable[[], set[str]],
    ) -> CachedImage:
        digest = reference[len(BUILD_PREFIX) :]
        progress.step = "building"
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.root / BUILDS).mkdir(exist_ok=True, mode=0o700)
        async with self._locked():
            if not (self._bundle(digest) / IMAGE_CONFIG).exists():
                await self._make(digest, recipe)
            image = await self._recorded(digest, reference, in_use)
        progress.step = "ready"
        return image

    async def _make(self, digest: str, recipe: Mapping[str, Any]) -> None:
        """mmdebstrap the base with the packages (as root, from Debian's archive: what
        the host's own apt trusts), then the files and the user, into a new bundle."""
        bundle = self._bundle(digest)
        staging = bundle.with_name(f".{bundle.name}.{secrets.token_hex(4)}")
        log = self.build_log(recipe)
        suite = recipe["base"].split(":", 1)[1]
        user = recipe.get("user", "user")
        hooks = [f'--customize-hook=chroot "$1" {USER_HOOK}'] if user == "user" else []
        try:
            staging.mkdir(mode=0o755)
            with log.open("wb") as output:
                await _run(
                    "mmdebstrap", "--variant=minbase", "--mode=root", "--format=directory",
                    *[f"--dpkgopt=path-exclude={glob}" for glob in BUILD_EXCLUDES],
                    *([f"--include={','.join(recipe['packages'])}"] if recipe["packages"] else []),
                    *hooks, suite, str(staging / "rootfs"), log=output,
                )  # fmt: skip
                for entry in recipe.get("files", ()):
                    _add_file(staging / "rootfs", entry)
                    output.write(f"added {entry['path']} ({entry['mode']})\n".encode())
                await run_steps(staging / "rootfs", recipe, output)
            uid, home = _build_user(recipe)
            saved = {
                "args": [],
                "env": {"PATH": BUILD_PATH, "HOME": home},
                "workingDir": "/",
                "uid": uid,
                "gid": uid,
            }
            (staging / IMAGE_CONFIG).write_text(json.dumps(saved))
            shutil.rmtree(bundle, ignore_errors=True)
            staging.rename(bundle)
        except _CommandFailed as exc:
            raise _build_failed("the build failed", exc.output) from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    async def _resolve(self, reference: str, authfile: Path | None) -> tuple[str, int]:
        """The digest of this host's platform's manifest, and the bytes to pull."""
        raw = await self._skopeo("inspect", "--raw", reference, authfile, f"docker://{reference}")
        manifest = _json(raw, reference)
        if manifest.get("mediaType") in INDEXES or "manifests" in manifest:
            chosen = _platform_manifest(manifest, reference)
            pinned = f"{_repository(reference)}@{chosen}"
            raw = await self._skopeo("inspect", "--raw", reference, authfile, f"docker://{pinned}")
            manifest = _json(raw, reference)
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        blobs = [manifest.get("config", {}), *manifest.get("layers", [])]
        return digest, sum(int(blob.get("size", 0)) for blob in blobs)

    async def _copy(
        self, reference: str, digest: str, authfile: Path | None, progress: Progress
    ) -> None:
        layout = self.root / LAYOUT
        blobs = layout / "blobs" / "sha256"
        before = _file_sizes(blobs)
        source = f"docker://{_repository(reference)}@{digest}"
        copy = asyncio.ensure_future(
            self._skopeo(
                "copy", "--quiet", reference, authfile, source, f"oci:{layout}:{_hex(digest)}"
            )
        )
        while not copy.done():
            await asyncio.wait([copy], timeout=PROGRESS_SECONDS)
            fresh = sum(size for name, size in _file_sizes(blobs).items() if name not in before)
            progress.done = min(progress.total, fresh) if progress.total else fresh
        await copy
        progress.done = progress.total

    async def _unpack(self, digest: str) -> None:
        bundle = self._bundle(digest)
        staging = bundle.with_name(f".{bundle.name}.{secrets.token_hex(4)}")
        image = f"{self.root / LAYOUT}:{_hex(digest)}"
        try:
            await _run("umoci", "unpack", "--image", image, str(staging))
            _save_config(staging, self.root / LAYOUT, digest)
            staging.chmod(0o755)
            staging.rename(bundle)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    async def _skopeo(
        self, verb: str, option: str, reference: str, authfile: Path | None, *rest: str
    ) -> bytes:
        """skopeo `verb` `option` against the registry of `reference`, with its TLS rule
        and credentials; a failure becomes an ImageFailure in words."""
        flag = "--tls-verify" if verb == "inspect" else "--src-tls-verify"
        options = [f"{flag}={'false' if self._plain_http(str(reference)) else 'true'}"]
        if authfile is not None:
            options += ["--authfile" if verb == "inspect" else "--src-authfile", str(authfile)]
        else:
            options += ["--no-creds" if verb == "inspect" else "--src-no-creds"]
        try:
            return await _run("skopeo", *POLICY, verb, option, *options, *rest)
        except _CommandFailed as exc:
            raise _failure(reference, exc.output) from None

    def _plain_http(self, reference: str) -> bool:
        registry = _registry(reference)
        return self._listed(registry)

    def _listed(self, registry: str) -> bool:
        return registry in self.insecure or _host(registry) in self.insecure

    async def _check_registry(self, reference: str) -> None:
        """Whoever may edit a template names the registry, so the server would request
        whatever it names: its own loopback ports, or the cloud metadata address. Those
        (by name or by what the name resolves to) only when the operator listed them."""
        registry = _registry(reference)
        if self._listed(registry) or not await asyncio.to_thread(_on_this_host, _host(registry)):
            return
        raise ImageFailure(
            "registry-not-allowed",
            f"registry {registry} is on this machine or link-local: the server pulls from "
            "there only if MBOX_INSECURE_REGISTRIES names it",
        )

    # -- eviction -----------------------------------------------------------------------

    async def _evict(self, index: dict[str, Any], keep: set[str]) -> None:
        """Least recently used first, until the cache fits (lock held)."""
        if not self.max_bytes:
            return
        entries = sorted(index["images"].items(), key=lambda item: self._last_used(item[0]))
        total = sum(entry.get("size", 0) for _, entry in entries)
        removed = False
        for digest, entry in entries:
            if total <= self.max_bytes:
                break
            if digest in keep:
                continue
            await self._remove(index, digest)
            total -= entry.get("size", 0)
            removed = True
        if removed:
            self._write_index(index)
            await _run("umoci", "gc", "--layout", str(self.root / LAYOUT))

    async def _remove(self, index: dict[str, Any], digest: str) -> None:
        index["images"].pop(digest, None)
        index["refs"] = {ref: d for ref, d in index["refs"].items() if d != digest}
        with contextlib.suppress(_CommandFailed):
            await _run("umoci", "rm", "--image", f"{self.root / LAYOUT}:{_hex(digest)}")
        await asyncio.to_thread(shutil.rmtree, self._bundle(digest), True)

    # -- the index ----------------------------------------------------------------------

    def _touch(self, image: CachedImage) -> CachedImage:
        """Mark as used now: the bundle's config file's mtime (no index write, so no lock
        and no lost update of what a pull writes meanwhile)."""
        with contextlib.suppress(OSError):
            os.utime(image.bundle / IMAGE_CONFIG)
        return image

    def _last_used(self, digest: str) -> float:
        try:
            return (self._bundle(digest) / IMAGE_CONFIG).stat().st_mtime
        except OSError:
            return 0.0

    def _read_index(self) -> dict[str, Any]:
        try:
            index = json.loads((self.root / INDEX).read_text())
        except (FileNotFoundError, ValueError):
            index = {}
        return {"images": index.get("images", {}), "refs": index.get("refs", {})}

    def _write_index(self, index: dict[str, Any]) -> None:
        temporary = self.root / f".{INDEX}.{secrets.token_hex(4)}"
        temporary.write_text(json.dumps(index, indent=1, sort_keys=True))
        temporary.replace(self.root / INDEX)

    def _cached(self, digest: str, entry: Mapping[str, Any]) -> CachedImage:
        return CachedImage(
            digest=digest,
            references=tuple(entry.get("references", ())),
            size_bytes=int(entry.get("size", 0)),
            pulled_at=float(entry.get("pulledAt", 0)),
            last_used_at=self._last_used(digest),
            bundle=self._bundle(digest),
        )

    def _bundle(self, digest: str) -> Path:
        return self.root / BUNDLES / _hex(digest)

    def _size(self, digest: str) -> int:
        """The unpacked tree plus the blobs it came from (shared blobs count for each)."""
        size = _tree_size(self._bundle(digest))
        manifest = self.root / LAYOUT / "blobs" / "sha256" / _hex(digest)
        with contextlib.suppress(OSError, ValueError):
            content = json.loads(manifest.read_text())
            size += sum(int(layer.get("size", 0)) for layer in content.get("layers", []))
        return size

    @contextlib.asynccontextmanager
    async def _locked(self):
        (self.root / BUNDLES).mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    @contextlib.contextmanager
    def _authfile(self, auth: RegistryAuth | None) -> Iterator[Path | None]:
        """skopeo's credentials, in a file only root reads, gone after the pull (never on
        a command line, where other host processes could read them)."""
        if auth is None:
            yield None
            return
        token = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()
        path = self.root / f".auth-{secrets.token_hex(8)}.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w") as file:
            json.dump({"auths": {auth.registry: {"auth": token}}}, file)
        try:
            yield path
        finally:
            path.unlink(missing_ok=True)


def build_reference(recipe: Mapping[str, Any]) -> str:
    """build:sha256:<digest of the recipe and the build format>."""
    canonical = json.dumps([BUILD_FORMAT, recipe], sort_keys=True, separators=(",", ":"))
    return f"{BUILD_PREFIX}sha256:{hashlib.sha256(canonical.encode()).hexdigest()}"


async def run_steps(tree: Path, recipe: Mapping[str, Any], log: BinaryIO) -> None:
    """The recipe's `run` steps as root of the tree, then its `verify` command as the
    image's user, each in the build jail (`jail.py`); the first to fail fails the build."""
    if not recipe.get("run") and not recipe.get("verify"):
        return
    commands = [
        (f"run step {n}", step, 0, "/root") for n, step in enumerate(recipe.get("run", ()), 1)
    ]
    if recipe.get("verify"):
        commands.append(("the verify command", recipe["verify"], *_build_user(recipe)))
    with jail.shifted(tree):
        for name, command, uid, cwd in commands:
            log.write(f"$ {command}\n".encode())
            log.flush()
            env = {**BUILD_ENV, "HOME": cwd}
            status = await jail.run(tree, command, log=log, env=env, uid=uid, cwd=cwd)
            if status != 0:
                raise _build_failed(f"{name} exited with {status}", _log_tail(log))


def _build_user(recipe: Mapping[str, Any]) -> tuple[int, str]:
    """The uid a built image runs as, and its home."""
    return (BUILD_USER_UID, "/home/user") if recipe.get("user", "user") == "user" else (0, "/root")


def _build_failed(why: str, output: str) -> ImageFailure:
    return ImageFailure("build-failed", f"{why}: {output.strip()[-400:]}")


def _log_tail(log: BinaryIO) -> str:
    """The last 2000 characters a build log holds so far."""
    log.flush()
    return Path(log.name).read_text(errors="replace")[-2000:]


# The build's own user, as Debian makes users (a fixed command: no recipe text in it).
USER_HOOK = f"useradd --create-home --uid {BUILD_USER_UID} --user-group --shell /bin/bash user"
ADD_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _add_file(rootfs: Path, entry: Mapping[str, str]) -> None:
    """Write a recipe's file into the built tree, root-owned, walking without following
    links (a path through a link, such as Debian's /bin -> usr/bin, is refused in words)."""
    *parents, name = [piece for piece in entry["path"].split("/") if piece]
    fds = [os.open(rootfs, DIR_FLAGS)]
    try:
        for piece in parents:
            with contextlib.suppress(FileExistsError):
                os.mkdir(piece, 0o755, dir_fd=fds[-1])
            try:
                fds.append(os.open(piece, DIR_FLAGS, dir_fd=fds[-1]))
            except OSError:
                raise ImageFailure(
                    "build-failed",
                    f"build file {entry['path']}: {piece} is a link or a file in the image "
                    "(Debian links /bin, /lib and /sbin into /usr: use the /usr path)",
                ) from None
        try:
            fd = os.open(name, ADD_FLAGS, int(entry["mode"], 8), dir_fd=fds[-1])
        except OSError as exc:
            raise ImageFailure(
                "build-failed", f"build file {entry['path']}: {exc.strerror}"
            ) from None
        with os.fdopen(fd, "wb") as file:
            file.write(entry["content"].encode())
            os.fchmod(file.fileno(), int(entry["mode"], 8))
    finally:
        for fd in fds:
            os.close(fd)


# -- references ---------------------------------------------------------------------------


def _split_tag(reference: str) -> tuple[str, str]:
    """(name, tag) of a reference without a digest; the tag is "" when absent."""
    slash = reference.rfind("/")
    colon = reference.rfind(":")
    if colon > slash:
        return reference[:colon], reference[colon + 1 :]
    return reference, ""


def _repository(reference: str) -> str:
    return _split_tag(reference.split("@", 1)[0])[0]


def _registry(reference: str) -> str:
    """The registry host of a reference (`docker.io` when it names none, as Docker does)."""
    first, _, rest = reference.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def _host(registry: str) -> str:
    """A registry's host, without its port ("[::1]:5000" -> "::1")."""
    if registry.startswith("["):
        return registry[1:].split("]", 1)[0]
    return registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry


def _on_this_host(host: str) -> bool:
    """Whether `host` is or resolves to a loopback, link-local or unspecified address
    (an unresolvable name is left to the pull, which says it is unreachable)."""
    try:
        found = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    for *_, address in found:
        ip = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if ip.is_loopback or ip.is_link_local or ip.is_unspecified:
            return True
    return False


def registry_of(reference: str) -> str:
    return _registry(reference.strip())


def _platform_manifest(index: Mapping[str, Any], reference: str) -> str:
    arch = ARCHITECTURES.get(platform.machine(), platform.machine())
    for manifest in index.get("manifests", []):
        wanted = manifest.get("platform", {})
        if wanted.get("os") == "linux" and wanted.get("architecture") == arch:
            return manifest["digest"]
    raise ImageFailure("not-found", f"image {reference} has no linux/{arch} variant")


def _hex(digest: str) -> str:
    algorithm, _, value = digest.partition(":")
    if algorithm != "sha256" or not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ImageFailure("invalid", f"not a sha256 digest: {digest}")
    return value


def _json(raw: bytes, reference: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ImageFailure("invalid", f"the registry's manifest for {reference} is not JSON")
    return value


def _failure(reference: str, output: str) -> ImageFailure:
    registry = _registry(reference)
    last = (output.strip().splitlines() or ["no output"])[-1][:400]
    reason = next((why for pattern, why in FAILURES if pattern.search(output)), "failed")
    messages = {
        "corrupt": f"image {reference} is corrupt: a layer's content does not match its "
        f"digest ({last})",
        "unauthorized": f"registry {registry} refused access to {reference}: the image is "
        f"private and no valid registry credential was given ({last})",
        "not-found": f"image {reference} was not found in registry {registry} ({last})",
        "unreachable": f"registry {registry} is unreachable ({last})",
        "failed": f"pulling {reference} failed: {last}",
    }
    return ImageFailure(reason, messages[reason])


def _save_config(bundle: Path, layout: Path, digest: str) -> None:
    """The image's own ENTRYPOINT, CMD, Env and WorkingDir (umoci's runtime config
    merges the first two and adds defaults), with the uid and gid umoci resolved from the
    image's /etc/passwd for its User."""
    blobs = layout / "blobs" / "sha256"
    manifest = json.loads((blobs / _hex(digest)).read_text())
    image = json.loads((blobs / _hex(manifest["config"]["digest"])).read_text())
    config = image.get("config") or {}
    user = json.loads((bundle / "config.json").read_text()).get("process", {}).get("user", {})
    env = dict(item.split("=", 1) for item in config.get("Env") or () if "=" in item)
    saved = {
        "args": [*(config.get("Entrypoint") or ()), *(config.get("Cmd") or ())],
        "env": env,
        "workingDir": config.get("WorkingDir") or "/",
        "uid": int(user.get("uid", 0)),
        "gid": int(user.get("gid", 0)),
    }
    (bundle / IMAGE_CONFIG).write_text(json.dumps(saved))


# -- helpers ------------------------------------------------------------------------------


class _CommandFailed(Exception):
    def __init__(self, output: str) -> None:
        super().__init__(output)
        self.output = output


async def _run(*argv: str, log: BinaryIO | None = None) -> bytes:
    """Run a tool; its stdout, or with `log` everything it says written there as it comes
    (a build's log). A failure raises with what it said; a cancel kills it."""
    pipe = asyncio.subprocess.PIPE
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=log or pipe,
        stderr=asyncio.subprocess.STDOUT if log else pipe,
        env=HELPER_ENV,
    )
    try:
        out, err = await process.communicate()
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if process.returncode == 0:
        return out or b""
    if log is not None:
        raise _CommandFailed(_log_tail(log))
    raise _CommandFailed(err.decode(errors="replace") or out.decode(errors="replace"))


def _file_sizes(directory: Path) -> dict[str, int]:
    sizes = {}
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(directory):
            with contextlib.suppress(FileNotFoundError):
                sizes[entry.name] = entry.stat(follow_symlinks=False).st_size
    return sizes


def _tree_size(path: Path) -> int:
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(directory, name)).st_blocks * 512
    return total


def _mib(count: int) -> str:
    return f"{count / 1024**2:.1f} MiB"
