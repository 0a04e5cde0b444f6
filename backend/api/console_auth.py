"""Sign-in for the console when MBOX_API_TOKEN is set: prove the token once, get an
HttpOnly, SameSite sign-in cookie naming who signed in (`__Host-` and Secure over TLS);
sign out revokes it everywhere and closes its sockets. Failed sign-ins are rate-limited
per client address."""

from __future__ import annotations

import contextlib
import html
import ipaddress
import math
import time
from collections import OrderedDict, deque
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from backend.api.deps import SettingsDep
from backend.auth.service import (
    SECURE_SIGN_IN_COOKIE,
    SIGN_IN_COOKIE,
    SIGN_IN_SECONDS,
    issue_sign_in,
    principal_of_secret,
    sign_in_subject,
)
from backend.principals.service import record_sign_in

router = APIRouter(include_in_schema=False)
MAX_FORM_BYTES = 8192


class SignInLimiter:
    """At most MAX_FAILURES failed sign-ins per client address in WINDOW_SECONDS (per
    process): guessing the token from one address is slowed to a crawl. Remembers at most
    MAX_ADDRESSES addresses (the least recently failing are forgotten), so failures from
    very many addresses (IPv6, a spoofed X-Forwarded-For) cannot exhaust memory."""

    MAX_FAILURES = 10
    WINDOW_SECONDS = 60.0
    MAX_ADDRESSES = 10_000

    def __init__(self) -> None:
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._failures)

    def retry_after(self, address: str) -> int:
        """Seconds until `address` may try again (0: now)."""
        now = time.monotonic()
        failures = self._recent(_client_key(address), now)
        if len(failures) < self.MAX_FAILURES:
            return 0
        return max(1, math.ceil(failures[0] + self.WINDOW_SECONDS - now))

    def failed(self, address: str) -> None:
        now, key = time.monotonic(), _client_key(address)
        self._failures[key] = self._recent(key, now)
        self._failures[key].append(now)
        self._failures.move_to_end(key)
        while len(self._failures) > self.MAX_ADDRESSES:
            self._failures.popitem(last=False)

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.get(key, deque())
        while failures and failures[0] <= now - self.WINDOW_SECONDS:
            failures.popleft()
        return failures


def _client_key(address: str) -> str:
    """An IPv4 address as it is (also when a dual-stack socket maps it into IPv6); any
    other IPv6 address as its /64 network."""
    with contextlib.suppress(ValueError):
        ip = ipaddress.ip_address(address)
        if ip.version == 6 and ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        if ip.version == 6:
            return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return address


# Served by the API rather than Reflex: it must work before the console's state socket
# (closed to strangers) is open, and needs no JavaScript. Colours follow the console's
# Radix theme (indigo accent), light or dark as the system prefers.
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · mbox</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<style>
:root{{--bg:#fcfcfd;--panel:#fff;--line:#e0e1e6;--text:#1c2024;--muted:#60646c;
--accent:#3e63dd;--accent-text:#fff;--danger:#ce2c31;--field:#fff}}
@media (prefers-color-scheme:dark){{:root{{--bg:#111113;--panel:#18191b;--line:#363a3f;
--text:#edeef0;--muted:#b0b4ba;--accent:#3e63dd;--danger:#ff9592;--field:#111113}}}}
body{{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;background:var(--bg);
color:var(--text);display:grid;place-items:center;min-height:100vh;margin:0}}
main{{background:var(--panel);border:1px solid var(--line);border-radius:12px;padding:32px;
width:min(360px,calc(100vw - 48px));box-sizing:border-box}}
.brand{{display:flex;align-items:center;gap:10px;margin-bottom:20px}}
.mark{{width:32px;height:32px;border-radius:8px;background:var(--accent);display:grid;
place-items:center}}
h1{{font-size:20px;margin:0 0 4px}}p{{color:var(--muted);font-size:14px;margin:0 0 20px}}
label{{display:block;font-size:14px;font-weight:600;margin-bottom:6px}}
input{{width:100%;box-sizing:border-box;padding:8px 10px;border:1px solid var(--line);
border-radius:6px;font-size:14px;background:var(--field);color:var(--text)}}
input:focus-visible,button:focus-visible{{outline:2px solid var(--accent);outline-offset:2px}}
button{{margin-top:16px;width:100%;padding:9px;border:0;border-radius:6px;
background:var(--accent);color:var(--accent-text);font-size:14px;font-weight:600;
cursor:pointer}}
.error{{color:var(--danger);font-size:14px;margin-top:12px}}
.hint{{font-size:13px;margin:12px 0 0}}
</style></head><body>
<main>
<div class="brand"><div class="mark" aria-hidden="true">
<svg width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="#fff" stroke-width="2"
stroke-linecap="round" stroke-linejoin="round"><path d="M21 8a2 2 0 0 0-1-1.73l-7-4a2 2 0 0
0-2 0l-7 4A2 2 0 0 0 3 8v8a2 2 0 0 0 1 1.73l7 4a2 2 0 0 0 2 0l7-4A2 2 0 0 0 21 16Z"/>
<path d="m3.3 7 8.7 5 8.7-5"/><path d="M12 22V12"/></svg></div><strong>mbox</strong></div>
<form method="post" action="/login">
<h1>Sign in to mbox</h1><p>Enter an API token for this server.</p>
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="{next}">
<button type="submit">Sign in</button>{error}
<p class="hint">The console keeps you signed in for 12 hours in an HttpOnly cookie;
the token itself is not stored in the browser.</p>
</form></main></body></html>"""


def _safe_next(value: str | None) -> str:
    """Only same-site paths: never redirect a signed-in user to another origin."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


@router.get("/login", response_model=None)
def login_page(request: Request, settings: SettingsDep) -> HTMLResponse | RedirectResponse:
    if not settings.auth_required:  # nothing to sign in to
        return RedirectResponse("/", status_code=303)
    error = '<div class="error" role="alert">That token is not valid.</div>'
    return HTMLResponse(
        PAGE.format(
            next=html.escape(_safe_next(request.query_params.get("next"))),
            error=error if request.query_params.get("error") else "",
        )
    )


@router.post("/login")
async def login(request: Request, settings: SettingsDep) -> Response:
    limiter: SignInLimiter = request.app.state.sign_in_limiter
    address = request.client.host if request.client else ""
    if wait := limiter.retry_after(address):
        return JSONResponse(
            {"error": "too many failed sign-in attempts; try again later"},
            status_code=429,
            headers={"Retry-After": str(wait)},
        )
    body = await _read_form(request)
    if body is None:
        return JSONResponse({"error": f"sign-in form is larger than {MAX_FORM_BYTES} bytes"}, 413)
    form = parse_qs(body.decode("utf-8", "replace"))
    target = _safe_next(form.get("next", [""])[0])
    database = request.app.state.services.database
    principal = await database.call(principal_of_secret, settings, form.get("token", [""])[0])
    await database.call(record_sign_in, principal=principal, address=address)
    if principal is None:
        limiter.failed(address)
        return RedirectResponse(f"/login?error=1&next={quote(target)}", status_code=303)
    sign_ins = request.app.state.sign_ins
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        sign_ins.cookie_name(request.scope),
        issue_sign_in(settings, sign_in_subject(principal)),
        max_age=SIGN_IN_SECONDS,
        httponly=True,
        samesite="lax",
        secure=sign_ins.secure(request.scope),
        path="/",
    )
    return response


async def _read_form(request: Request) -> bytes | None:
    """The body, or None once it passes MAX_FORM_BYTES (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    return bytes(body)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Revoke the sign-in (every replica refuses its cookie) and close its sockets."""
    sign_ins = request.app.state.sign_ins
    sign_in = await sign_ins.current(request.scope)
    if sign_in is not None:
        await sign_ins.sign_out(sign_in)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SIGN_IN_COOKIE, path="/")
    response.delete_cookie(SECURE_SIGN_IN_COOKIE, path="/", secure=True)
    return response
