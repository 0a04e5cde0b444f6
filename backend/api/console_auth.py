"""Sign-in for the console when MBOX_API_TOKEN is set: prove the token once, get an
HttpOnly, SameSite session cookie. (The console's own sign-in page replaces this form in
a later release; the cookie and the gate stay.)"""

from __future__ import annotations

import html
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from backend.auth.service import (
    SESSION_COOKIE,
    SESSION_SECONDS,
    issue_console_session,
    token_matches,
)

router = APIRouter(include_in_schema=False)
MAX_FORM_BYTES = 8192

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · mbox</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<style>
body{{font-family:system-ui,sans-serif;background:#f8fafc;color:#0f172a;display:grid;
place-items:center;min-height:100vh;margin:0}}
form{{background:#fff;border:1px solid #e2e8f0;border-radius:12px;padding:32px;width:340px}}
h1{{font-size:20px;margin:0 0 4px}}p{{color:#475569;font-size:14px;margin:0 0 20px}}
label{{display:block;font-size:14px;font-weight:600;margin-bottom:6px}}
input{{width:100%;box-sizing:border-box;padding:8px 10px;border:1px solid #cbd5e1;
border-radius:6px;font-size:14px}}
button{{margin-top:16px;width:100%;padding:9px;border:0;border-radius:6px;background:#3e63dd;
color:#fff;font-size:14px;font-weight:600;cursor:pointer}}
.error{{color:#b91c1c;font-size:14px;margin-top:12px}}
</style></head><body>
<form method="post" action="/login">
<h1>Sign in to mbox</h1><p>Enter the server's API token.</p>
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="{next}">
<button type="submit">Sign in</button>{error}
</form></body></html>"""


def _safe_next(value: str | None) -> str:
    """Only same-site paths: never redirect a signed-in user to another origin."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


@router.get("/login")
def login_page(request: Request) -> HTMLResponse:
    error = '<div class="error" role="alert">That token is not valid.</div>'
    return HTMLResponse(
        PAGE.format(
            next=html.escape(_safe_next(request.query_params.get("next"))),
            error=error if request.query_params.get("error") else "",
        )
    )


@router.post("/login")
async def login(request: Request) -> Response:
    body = await request.body()
    form = parse_qs(body[:MAX_FORM_BYTES].decode("utf-8", "replace"))
    target = _safe_next(form.get("next", [""])[0])
    if not token_matches(request.app.state.settings, form.get("token", [""])[0]):
        return RedirectResponse(f"/login?error=1&next={quote(target)}", status_code=303)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        issue_console_session(request.app.state.settings),
        max_age=SESSION_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
