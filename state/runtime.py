"""Runtime page state: the adapter's inventory with its summary, the orphan audit, and the
gated cleanup of one orphan.

Both lists come from `services().inventory`, filtered there (exact namespace and kind);
`/runtime?namespace=<ns>&kind=<Kind>` opens them filtered. Cleanup names the orphan's
reason as the audit gave it, so the service refuses it if the reason changed meanwhile.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable
from datetime import datetime

import reflex as rx

from backend.auth.models import Principal
from backend.errors import Conflict, ServiceError
from backend.inventory.models import (
    CachedImage,
    CachedImageList,
    RuntimeOrphan,
    RuntimeOrphanAudit,
    RuntimeOrphanCleanupRequest,
    RuntimeResource,
    RuntimeResourceList,
    RuntimeWorkloadSummary,
)
from backend.inventory.service import CONFIRM
from backend.validation import request_body
from state.base import Choice, Feedback, acting, attempt, refusal, services
from state.format import byte_size, clock, short_id, timestamp

ANY = "*"  # the filters' "no filter" value (a select item cannot be ""; no name is "*")
ADAPTERS = {
    "local": "Local (bubblewrap on this host)",
    "agent-sandbox": "Kubernetes (agent-sandbox)",
}
# Why a resource is an orphan, in a few words (the audit's message says the rest).
REASONS = {
    "missing-sandbox-record": "No sandbox record",
    "missing-template-record": "No template record",
    "cleanup-pending": "Sandbox deleted, cleanup pending",
    "runtime-ref-mismatch": "Sandbox records another resource",
    "unlabeled-owner": "No owner label",
}


@dataclasses.dataclass
class Cell:
    """A summary figure: its label, value and a line of detail."""

    label: str
    value: str
    detail: str = ""


@dataclasses.dataclass
class ResourceItem:
    """One runtime resource, formatted for the inventory table."""

    key: str  # kind/namespace/name: unique in a list
    kind: str
    name: str
    namespace: str
    owner: str  # "Sandbox 1a2b3c4d", "Template 5e6f7a8b", or "" for none
    owner_id: str
    owner_href: str
    phase: str
    pod: str
    ready: str  # "1/1", or "" when nothing reports containers
    restarts: str
    message: str
    requests: str
    created: str
    created_at: str


@dataclasses.dataclass
class OrphanItem:
    """One orphan: the resource, why it is one (code and words) and the evidence."""

    key: str
    adapter: str
    kind: str
    namespace: str
    name: str
    reason: str
    reason_label: str
    message: str
    evidence: list[str]
    created: str
    created_at: str


@dataclasses.dataclass
class View:
    """What the page shows after a read: both lists, or the service's word on why not."""

    adapter: str = ""
    checked: str = ""
    checked_at: str = ""
    cells: list[Cell] = dataclasses.field(default_factory=list)
    namespaces: list[str] = dataclasses.field(default_factory=list)
    kinds: list[str] = dataclasses.field(default_factory=list)
    issues: list[str] = dataclasses.field(default_factory=list)
    resources: list[ResourceItem] = dataclasses.field(default_factory=list)
    orphans: list[OrphanItem] = dataclasses.field(default_factory=list)


NO_ORPHAN = OrphanItem("", "", "", "", "", "", "", "", [], "", "")
DIGEST_SHOWN = 19  # "sha256:" and 12 hex digits


@dataclasses.dataclass
class ImageItem:
    """One cached image, formatted for the Images table."""

    digest: str
    short_digest: str
    references: list[str]
    size: str  # in MiB
    last_used: str
    last_used_at: str
    pulled_at: str
    in_use: bool


@dataclasses.dataclass
class ImageCacheView:
    """The runtime's image cache: its images, the total against the limit, and whether
    this runtime keeps images at all (a cluster's nodes keep their own)."""

    kept: bool = True
    total: str = ""
    items: list[ImageItem] = dataclasses.field(default_factory=list)


def _key(resource: RuntimeResource) -> str:
    return f"{resource.kind}/{resource.namespace or ''}/{resource.name}"


def _words(values: dict[str, str] | None) -> str:
    """`cpu 500m · memory 512Mi`, or "" for none."""
    return " · ".join(f"{name} {value}" for name, value in sorted((values or {}).items()))


def _desired(count: int) -> str:
    return f"{count} desired" if count else "no replicas declared"


def _limits(values: dict[str, str] | None) -> str:
    return f"limits {_words(values)}" if values else "no limits reported"


def _capacity(value: str | None) -> str:
    """A storage quantity; plain byte counts (the local runtime's) in binary units."""
    if not value:
        return "—"
    return byte_size(int(value)) if value.isdigit() else value


def _moment(at: datetime) -> str:
    return at.strftime("%b %d, %H:%M")


def resource_item(resource: RuntimeResource) -> ResourceItem:
    seen = resource.observation
    owner = resource.owner
    owner_words = owner_id = href = ""
    if owner is not None and owner.kind == "sandbox" and owner.sandbox_id:
        owner_id, href = owner.sandbox_id, f"/sandboxes/{owner.sandbox_id}"
        owner_words = f"Sandbox {short_id(owner_id)}"
    elif owner is not None and owner.template_id:
        owner_id, href = owner.template_id, "/templates"
        owner_words = f"Template {short_id(owner_id)}"
    ready = ""
    if seen and seen.containers_total:
        ready = f"{seen.containers_ready or 0}/{seen.containers_total}"
    return ResourceItem(
        key=_key(resource),
        kind=resource.kind,
        name=resource.name,
        namespace=resource.namespace or "",
        owner=owner_words,
        owner_id=owner_id,
        owner_href=href,
        phase=(seen and seen.pod_phase) or "",
        pod=(seen and seen.pod_name) or "",
        ready=ready,
        restarts=str((seen and seen.restart_count) or 0) if seen else "",
        message=(seen and seen.message) or "",
        requests=_words(seen.requests if seen else None),
        created=_moment(resource.created_at),
        created_at=timestamp(resource.created_at),
    )


def orphan_item(orphan: RuntimeOrphan) -> OrphanItem:
    resource = orphan.resource
    return OrphanItem(
        key=_key(resource),
        adapter=resource.adapter,
        kind=resource.kind,
        namespace=resource.namespace or "",
        name=resource.name,
        reason=orphan.reason,
        reason_label=REASONS.get(orphan.reason, orphan.reason),
        message=orphan.message,
        evidence=list(orphan.evidence or []),
        created=_moment(resource.created_at),
        created_at=timestamp(resource.created_at),
    )


def _counts(entries: Iterable) -> str:
    return " · ".join(f"{entry.name} {entry.count}" for entry in entries)


def mib(size: int) -> str:
    return f"{size / 1024**2:.1f} MiB"


def image_item(image: CachedImage) -> ImageItem:
    return ImageItem(
        digest=image.digest,
        short_digest=image.digest[:DIGEST_SHOWN],
        references=list(image.references),
        size=mib(image.size_bytes),
        last_used=_moment(image.last_used_at),
        last_used_at=timestamp(image.last_used_at),
        pulled_at=timestamp(image.pulled_at),
        in_use=image.in_use,
    )


def cache_total(cache: CachedImageList) -> str:
    """`12.3 MiB cached of a 20 GiB limit`, or `... (no limit)`."""
    count = len(cache.items)
    held = f"{mib(cache.total_bytes)} in {count} image{'' if count == 1 else 's'}"
    if not cache.max_bytes:
        return f"{held}; no size limit."
    return (
        f"{held} of a {byte_size(cache.max_bytes)} limit; past it, the least recently "
        "used images not in use are removed."
    )


async def read_images(principal: Principal) -> ImageCacheView:
    cache = await services().inventory.images(principal=principal)
    return ImageCacheView(
        kept=cache.kept, total=cache_total(cache), items=[image_item(i) for i in cache.items]
    )


def summary_cells(found: RuntimeResourceList, orphans: RuntimeOrphanAudit) -> list[Cell]:
    work: RuntimeWorkloadSummary = found.summary.workload
    pods = f"{work.running_pods}/{work.observed_pods}"
    storage = " · ".join(f"{s.phase} {s.count}" for s in work.storage or [])
    return [
        Cell("Managed resources", str(found.summary.total), _counts(found.summary.by_namespace)),
        Cell("By kind", str(len(found.summary.by_kind)), _counts(found.summary.by_kind)),
        Cell("Pods running / observed", pods, _desired(work.desired_pods)),
        Cell("Requests", _words(work.requests) or "—", _limits(work.limits)),
        Cell("Storage", _capacity(work.storage_capacity), storage),
        Cell(
            "Restarts",
            str(work.restart_count),
            f"containers ready {work.containers_ready}/{work.containers_total}",
        ),
        Cell("Orphans", str(orphans.orphan_count), f"of {orphans.resource_count} resources"),
    ]


async def read_runtime(principal: Principal, namespace: str, kind: str) -> View:
    """The inventory and the orphan audit, with the same filters, read side by side."""
    inventory = services().inventory
    found, orphans = await asyncio.gather(
        inventory.resources(principal=principal, namespace=namespace or None, kind=kind or None),
        inventory.orphans(principal=principal, namespace=namespace or None, kind=kind or None),
    )
    work = found.summary.workload
    issues = [
        f"{issue.resource}: {issue.field} {issue.value or ''} is {issue.reason}"
        for issue in work.quantity_issues or []
    ]
    return View(
        adapter=ADAPTERS.get(found.adapter, found.adapter),
        checked=clock(found.checked_at),
        checked_at=timestamp(found.checked_at),
        cells=summary_cells(found, orphans),
        namespaces=[entry.name for entry in found.summary.by_namespace],
        kinds=[entry.name for entry in found.summary.by_kind],
        issues=issues,
        resources=[resource_item(resource) for resource in found.items],
        orphans=[orphan_item(orphan) for orphan in orphans.items],
    )


async def clean_up(principal: Principal, orphan: OrphanItem) -> str:
    """Delete one orphan, naming the reason the audit gave; returns what was done."""
    resource = {"adapter": orphan.adapter, "kind": orphan.kind, "name": orphan.name}
    request = request_body(
        RuntimeOrphanCleanupRequest,  # a request body: camelCase names
        {
            "resource": {**resource, "namespace": orphan.namespace},
            "reason": orphan.reason,
            "deleteOrphan": True,
            "confirm": CONFIRM,
        },
    )
    done = await services().inventory.cleanup(principal=principal, data=request)
    return f"Deleted {done.resource.kind} {done.resource.name} ({orphan.reason_label.lower()})."


def cleanup_refusal(orphan: OrphanItem, exc: ServiceError) -> str:
    """Why a cleanup was refused, in words: the audit changed its mind (409) or the
    runtime failed (502)."""
    subject = f"Could not clean up {orphan.kind} {orphan.name}"
    if not isinstance(exc, Conflict):
        return f"{subject}: {refusal(exc).rstrip('.')}."
    current = exc.detail.get("currentReason")
    if current:
        now = REASONS.get(current, current).lower()
        return (
            f"{subject}: the audit now reports it for another reason ({now}, not "
            f"{orphan.reason_label.lower()}). Review the reason above before deleting it."
        )
    return f"{subject}: {exc.message}; it may have been removed or claimed meanwhile."


def _merged(known: list[Choice], found: list[str], current: str, everything: str) -> list[Choice]:
    """The filter's options: those seen so far (a filtered summary names only what it
    kept), those just found and the current one, after "everything"."""
    names = {c.value for c in known if c.value != ANY} | set(found) | ({current} - {""})
    return [Choice(ANY, everything), *(Choice(name, name) for name in sorted(names))]


class RuntimeState(Feedback, rx.State):
    adapter: str = ""
    checked: str = ""
    checked_at: str = ""
    cells: list[Cell] = []
    issues: list[str] = []
    resources: list[ResourceItem] = []
    orphans: list[OrphanItem] = []
    namespace: str = ANY
    kind: str = ANY
    namespace_choices: list[Choice] = []
    kind_choices: list[Choice] = []
    loaded: bool = False  # a read succeeded: the empty states may speak
    # The cleanup dialog: open while `target.key` is set; the name typed to confirm.
    target: OrphanItem = NO_ORPHAN
    typed: str = ""
    cleanup_error: str = ""
    cleanup_busy: bool = False
    # The image cache, read on its own (its failure leaves the inventory shown).
    images: list[ImageItem] = []
    images_kept: bool = True
    images_total: str = ""
    images_error: str = ""
    images_loaded: bool = False

    @rx.var
    def filtered(self) -> bool:
        return self.namespace != ANY or self.kind != ANY

    @rx.var
    def cleanup_open(self) -> bool:
        return self.target.key != ""

    @rx.var
    def confirmed(self) -> bool:
        """The name typed matches the resource's: the destructive button is enabled."""
        return self.typed.strip() == self.target.name != ""

    @rx.event
    async def load(self):
        """Open the page: filters from the URL (`?namespace=&kind=`), else everything."""
        asked = self.router.url.query_parameters
        self.namespace = asked.get("namespace") or ANY
        self.kind = asked.get("kind") or ANY
        self.namespace_choices = self.kind_choices = []
        self.target, self.typed, self.notice = NO_ORPHAN, "", ""
        await self._refresh()

    @rx.event
    async def refresh(self):
        self.notice = ""
        await self._refresh()

    @rx.event
    async def set_namespace(self, value: str):
        self.namespace = value
        await self._refresh()

    @rx.event
    async def set_kind(self, value: str):
        self.kind = value
        await self._refresh()

    @rx.event
    async def clear_filters(self):
        self.namespace = self.kind = ANY
        await self._refresh()

    async def _refresh(self):
        namespace = "" if self.namespace == ANY else self.namespace
        kind = "" if self.kind == ANY else self.kind
        read = await attempt(
            self,
            read_runtime(await acting(self), namespace, kind),
            failed=lambda exc: f"Could not read the runtime: {refusal(exc).rstrip('.')}.",
            clear=("error",),
        )
        if not read:  # no stale lists under the error
            self.loaded = False
            self.cells, self.issues, self.resources, self.orphans = [], [], [], []
            return
        view: View = read.value
        self.adapter, self.checked, self.checked_at = view.adapter, view.checked, view.checked_at
        self.cells, self.issues = view.cells, view.issues
        self.resources, self.orphans = view.resources, view.orphans
        self.namespace_choices = _merged(
            self.namespace_choices, view.namespaces, namespace, "All namespaces"
        )
        self.kind_choices = _merged(self.kind_choices, view.kinds, kind, "All kinds")
        self.loaded = True
        await self._refresh_images()

    async def _refresh_images(self):
        read = await attempt(
            self,
            read_images(await acting(self)),
            error="images_error",
            failed=lambda exc: f"Could not read the image cache: {refusal(exc).rstrip('.')}.",
            clear=("images_error",),
            busy=None,
        )
        if not read:
            self.images, self.images_total, self.images_loaded = [], "", False
            return
        cache: ImageCacheView = read.value
        self.images, self.images_kept, self.images_total = cache.items, cache.kept, cache.total
        self.images_loaded = True

    # -- cleanup ----------------------------------------------------------------------------

    @rx.event
    def ask_cleanup(self, key: str):
        self.target = next((o for o in self.orphans if o.key == key), NO_ORPHAN)
        self.typed, self.cleanup_error = "", ""

    @rx.event
    def set_cleanup_open(self, is_open: bool):
        if not is_open and not self.cleanup_busy:
            self.target = NO_ORPHAN

    @rx.event
    def set_typed(self, value: str):
        self.typed = value

    @rx.event
    async def cleanup(self, _form: dict | None = None):
        orphan = self.target
        if not self.confirmed:
            self.cleanup_error = f"Type {orphan.name} to confirm the deletion."
            return
        done = await attempt(
            self,
            clean_up(await acting(self), orphan),
            error="cleanup_error",
            failed=lambda exc: cleanup_refusal(orphan, exc),
            clear=("cleanup_error", "notice"),
            busy="cleanup_busy",
        )
        if done:
            self.target, self.notice = NO_ORPHAN, done.value
        await self._refresh()
        if not done:  # the dialog shows the orphan as the audit reports it now, if it still does
            self.target = next((o for o in self.orphans if o.key == orphan.key), orphan)
