"""The sandbox page's Terminal, Sessions and Preview tabs in Chromium against the real
server and local runtime: type into a shell and read its output, get what was printed
while disconnected on reconnect, copy and paste, share one terminal between two windows,
list and end sessions and download a recording, declare a port (by hand, or one that
listens), open and embed it (no link made), share it, list and revoke links."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.e2e.harness import LIFECYCLE_TIMEOUT, screenshot

pytestmark = pytest.mark.e2e

TERMINAL_TIMEOUT = 10_000  # a shell starts and echoes in milliseconds


def open_sandbox(page: Page, sandbox: dict) -> None:
    """The sandbox's page, on its default tab: the terminal, since the sandbox runs."""
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"/sandboxes/{sandbox['id']}")
    expect(page.get_by_role("heading", name=sandbox["name"], level=1)).to_be_visible()
    expect(page.get_by_role("tab", name="Terminal")).to_have_attribute("aria-selected", "true")


def open_tab(page: Page, tab: str) -> None:
    page.get_by_role("tab", name=tab).click()
    expect(page.get_by_role("tab", name=tab)).to_have_attribute("aria-selected", "true")


def terminal(page: Page) -> Locator:
    return page.get_by_role("region", name="Terminal", exact=True)


def screen(page: Page) -> Locator:
    """What the terminal shows (xterm's DOM renderer: one div per row)."""
    return terminal(page).locator(".xterm-rows")


def line(page: Page, text: str) -> Locator:
    """A row of the screen that reads exactly `text` (output, not the command typed)."""
    return screen(page).locator("> div").filter(has_text=re.compile(rf"^\s*{re.escape(text)}\s*$"))


def connection(page: Page) -> Locator:
    return page.get_by_role("status", name=re.compile(r"^Terminal connection"))


def focused_terminal(page: Page) -> Locator:
    """Where xterm takes keys: its hidden textarea."""
    return terminal(page).locator("textarea.xterm-helper-textarea")


def type_line(page: Page, line: str) -> None:
    terminal(page).locator(".xterm-screen").click()
    page.keyboard.type(line)
    page.keyboard.press("Enter")


def terminal_short_id(page: Page) -> str:
    label = page.get_by_label(re.compile(r"^Terminal id [0-9a-f]{8}$"))
    expect(label).to_be_visible()
    return (label.get_attribute("aria-label") or "").rsplit(" ", 1)[-1]


def test_type_reconnect_copy_and_paste(
    page: Page, sandbox: dict, base_url: str, pytestconfig: pytest.Config
) -> None:
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    open_sandbox(page, sandbox)
    expect(connection(page)).to_have_text("Connected", timeout=TERMINAL_TIMEOUT)

    type_line(page, "echo hello-$((6*7))")
    # The shell computed it: the command line itself reads hello-$((6*7)).
    expect(screen(page)).to_contain_text("hello-42", timeout=TERMINAL_TIMEOUT)
    screenshot(page, pytestconfig, "sandbox-terminal.png", full_page=True)

    # Output printed while no window is attached comes back on reconnect.
    type_line(page, "(sleep 2; echo back-again)")
    page.get_by_role("button", name="Disconnect").click()
    expect(connection(page)).to_have_text("Disconnected")
    expect(page.get_by_text("The shell keeps running for")).to_be_visible()
    page.wait_for_timeout(3000)
    expect(line(page, "back-again")).to_have_count(0)
    page.get_by_role("button", name="Connect", exact=True).click()
    expect(connection(page)).to_have_text("Connected", timeout=TERMINAL_TIMEOUT)
    expect(line(page, "back-again")).to_be_visible(timeout=TERMINAL_TIMEOUT)
    expect(line(page, "hello-42")).to_be_visible()  # the same shell, redrawn

    # Copy: a double click selects the word; Copy puts it on the clipboard.
    line(page, "hello-42").dblclick(position={"x": 12, "y": 6}, force=True)  # on the screen above
    page.get_by_role("button", name="Copy", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Copied")).to_have_text(
        "Copied 8 characters to the clipboard."
    )
    assert page.evaluate("navigator.clipboard.readText()") == "hello-42"

    # Paste from the field, and from the clipboard.
    form = page.get_by_role("form", name="Paste into the terminal")
    form.get_by_label("Paste text").fill("echo field-$((2+2))")
    form.get_by_role("button", name="Paste", exact=True).click()
    expect(focused_terminal(page)).to_be_focused()  # pasting focuses the terminal
    page.keyboard.press("Enter")
    expect(screen(page)).to_contain_text("field-4", timeout=TERMINAL_TIMEOUT)
    page.evaluate("navigator.clipboard.writeText('echo clip-$((3*3))')")
    form.get_by_role("button", name="Paste clipboard").click()
    expect(page.get_by_role("status").filter(has_text="Pasted")).to_be_visible()
    expect(focused_terminal(page)).to_be_focused()
    page.keyboard.press("Enter")
    expect(screen(page)).to_contain_text("clip-9", timeout=TERMINAL_TIMEOUT)

    # The terminal stays connected while another tab shows.
    open_tab(page, "Logs")
    open_tab(page, "Terminal")
    expect(connection(page)).to_have_text("Connected")
    expect(line(page, "clip-9")).to_be_visible()

    # A dropped connection (a closed laptop lid) comes back by itself, to the same shell.
    short = terminal_short_id(page)
    page.evaluate("Object.values(window.__reflexXterm)[0].socket.close()")
    expect(connection(page)).to_have_text("Reconnecting…")
    expect(connection(page)).to_have_text("Connected", timeout=TERMINAL_TIMEOUT)
    type_line(page, "echo again-$((9+1))")
    expect(line(page, "again-10")).to_be_visible(timeout=TERMINAL_TIMEOUT)
    expect(line(page, "hello-42")).to_be_visible()

    # So does a reload of the page.
    page.reload()
    expect(connection(page)).to_have_text("Connected", timeout=TERMINAL_TIMEOUT)
    assert terminal_short_id(page) == short
    expect(line(page, "again-10")).to_be_visible(timeout=TERMINAL_TIMEOUT)


def test_terminal_follows_the_sandbox(page: Page, api: httpx.Client, sandbox: dict) -> None:
    open_sandbox(page, sandbox)
    expect(connection(page)).to_have_text("Connected", timeout=TERMINAL_TIMEOUT)
    short = terminal_short_id(page)

    api.post(f"/v1/sandboxes/{sandbox['id']}/stop").raise_for_status()
    expect(terminal(page)).to_have_text(
        "The sandbox is stopped: start it to open a terminal.", timeout=LIFECYCLE_TIMEOUT
    )
    # Every process ended with the sandbox: it runs again with a new shell.
    api.post(f"/v1/sandboxes/{sandbox['id']}/start").raise_for_status()
    expect(connection(page)).to_have_text("Connected", timeout=LIFECYCLE_TIMEOUT)
    assert terminal_short_id(page) != short
    type_line(page, "echo fresh-$((4*4))")
    expect(line(page, "fresh-16")).to_be_visible(timeout=TERMINAL_TIMEOUT)


def test_two_windows_share_a_terminal(
    page: Page, context: BrowserContext, sandbox: dict, pytestconfig: pytest.Config
) -> None:
    open_sandbox(page, sandbox)
    expect(connection(page)).to_have_text("Connected", timeout=TERMINAL_TIMEOUT)
    type_line(page, "echo one-$((1+1))")
    expect(screen(page)).to_contain_text("one-2", timeout=TERMINAL_TIMEOUT)
    short = terminal_short_id(page)

    # A second window (same browser, signed in) attaches from the Sessions tab.
    other = context.new_page()
    open_sandbox(other, sandbox)
    expect(connection(other)).to_have_text("Connected", timeout=TERMINAL_TIMEOUT)
    assert terminal_short_id(other) != short  # it opened a terminal of its own
    open_tab(other, "Sessions")
    table = other.get_by_role("table", name="Sessions")
    mine = table.get_by_role("row").filter(has_text=short)
    expect(mine).to_contain_text("Terminal")
    expect(mine).to_contain_text("console")
    expect(mine).to_contain_text("Active")
    expect(table.get_by_role("row").filter(has_text="This window")).to_have_count(1)
    screenshot(other, pytestconfig, "sandbox-sessions.png", full_page=True)
    mine.get_by_role("button", name=f"Attach to terminal {short}").click()

    expect(other.get_by_role("tab", name="Terminal")).to_have_attribute("aria-selected", "true")
    expect(connection(other)).to_have_text("Connected", timeout=TERMINAL_TIMEOUT)
    assert terminal_short_id(other) == short
    expect(screen(other)).to_contain_text("one-2")  # what was printed before it attached

    # Typed in one window, seen in both.
    type_line(page, "echo shared-$((2+3))")
    expect(screen(page)).to_contain_text("shared-5", timeout=TERMINAL_TIMEOUT)
    expect(screen(other)).to_contain_text("shared-5", timeout=TERMINAL_TIMEOUT)

    # The window that attached watches until it takes control.
    other.get_by_role("button", name="Take control").click()
    expect(other.get_by_role("status").filter(has_text="now types")).to_be_visible()
    type_line(other, "echo from-two-$((3+4))")
    expect(screen(page)).to_contain_text("from-two-7", timeout=TERMINAL_TIMEOUT)
    other.close()


def test_sessions_end_and_recordings(page: Page, api: httpx.Client, sandbox: dict) -> None:
    created = api.post(
        f"/v1/sandboxes/{sandbox['id']}/sessions", json={"type": "ide", "client": "vscode"}
    )
    assert created.status_code == 201, created.text
    open_sandbox(page, sandbox)
    expect(connection(page)).to_have_text("Connected", timeout=TERMINAL_TIMEOUT)
    short = terminal_short_id(page)
    type_line(page, "echo recorded-$((5*5))")
    expect(screen(page)).to_contain_text("recorded-25", timeout=TERMINAL_TIMEOUT)

    open_tab(page, "Sessions")
    table = page.get_by_role("table", name="Sessions")
    ours = table.get_by_role("row").filter(has_text=short)
    expect(ours).to_contain_text("Active")
    expect(ours).to_contain_text("This window")
    ide = table.get_by_role("row").filter(has_text="vscode")
    expect(ide).to_contain_text("IDE")
    ide.get_by_role("button", name="End session vscode").click()
    expect(page.get_by_role("status").filter(has_text="Session ended.")).to_be_visible()
    expect(ide).to_contain_text("Ended")
    expect(ide.get_by_role("button")).to_have_count(0)
    assert api.get(f"/v1/sessions/{created.json()['id']}").json()["status"] == "ended"

    # The shell exits: the terminal ends, is not reconnected, and its recording is listed.
    open_tab(page, "Terminal")
    type_line(page, "exit")
    expect(connection(page)).to_have_text("Shell ended", timeout=TERMINAL_TIMEOUT)
    expect(page.get_by_text("The shell exited.")).to_be_visible()
    open_tab(page, "Sessions")
    download = ours.get_by_role("link", name=re.compile("^Download the terminal recording"))
    expect(download).to_be_visible(timeout=LIFECYCLE_TIMEOUT)
    expect(ours).to_contain_text("Ended")
    expect(ours.get_by_role("button", name=re.compile("^Attach"))).to_have_count(0)
    # The console's cookie opens the recording (a GET from the console's own origin).
    response = page.request.get(download.get_attribute("href") or "")
    assert response.status == 200, response.text()
    assert response.text().startswith('{"version": 2')
    assert "recorded-25" in response.text()

    # A new terminal starts another shell.
    open_tab(page, "Terminal")
    page.get_by_role("button", name="New terminal").click()
    expect(connection(page)).to_have_text("Connected", timeout=TERMINAL_TIMEOUT)
    assert terminal_short_id(page) != short
    type_line(page, "echo new-$((6+6))")
    expect(line(page, "new-12")).to_be_visible(timeout=TERMINAL_TIMEOUT)


def test_ports_share_links_and_revoke(
    page: Page, api: httpx.Client, sandbox: dict, pytestconfig: pytest.Config
) -> None:
    open_sandbox(page, sandbox)
    open_tab(page, "Preview")
    expect(page.get_by_text("No ports declared")).to_be_visible()

    page.get_by_role("button", name="Add port").click()
    dialog = page.get_by_role("dialog", name="Add port")
    dialog.get_by_label("Port").fill("8000")
    dialog.get_by_role("button", name="Add port").click()
    expect(dialog.get_by_role("alert")).to_have_text("Enter a name for the port, such as web.")
    dialog.get_by_label("Name", exact=True).fill("web")
    dialog.get_by_label("Port").fill("70000")
    dialog.get_by_role("button", name="Add port").click()
    expect(dialog.get_by_role("alert")).to_have_text("The port is a whole number from 1 to 65535.")
    dialog.get_by_label("Port").fill("8000")
    dialog.get_by_role("button", name="Add port").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_role("status").filter(has_text="Added")).to_have_text(
        "Added port web (8000)."
    )
    ports = page.get_by_role("table", name="Ports")
    web = ports.get_by_role("row").filter(has_text="web")
    expect(web).to_contain_text("8000 TCP")
    expect(web).to_contain_text(f"8000-{uuid.UUID(sandbox['id']).hex}.preview.localhost")
    declared = api.get(f"/v1/sandboxes/{sandbox['id']}").json()["ports"]
    assert [(p["name"], p["port"], p["protocol"]) for p in declared] == [("web", 8000, "TCP")]

    # A share link for a day: shown once, listed, then revoked.
    page.get_by_label("Share links expire after").click()
    page.get_by_role("option", name="1 day").click()
    web.get_by_role("button", name="Copy share link for web").click()
    shared = page.get_by_role("region", name="Shared link")
    link = shared.get_by_label("Share link")
    expect(link).to_have_value(re.compile(r"^http://8000-[0-9a-f]{32}\.preview\.localhost:\d+/"))
    expect(shared).to_contain_text("Anyone with this link can open port 8000 until")
    links = page.get_by_role("table", name="Preview links")
    row = links.get_by_role("row").filter(has_text="Shared from the console")
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("web · 8000")
    expect(row).to_contain_text(re.compile(r"in (23 h 59 min|1 d)"))
    screenshot(page, pytestconfig, "sandbox-preview.png", full_page=True)
    listed = api.get(f"/v1/sandboxes/{sandbox['id']}/preview-links").json()["items"]
    assert [(i["port"], i["label"]) for i in listed] == [(8000, "Shared from the console")]

    row.get_by_role("button", name=re.compile("^Revoke")).click()
    expect(page.get_by_role("status").filter(has_text="revoked")).to_be_visible()
    expect(row).to_contain_text("Revoked")
    expect(row.get_by_role("button")).to_have_count(0)
    listed = api.get(f"/v1/sandboxes/{sandbox['id']}/preview-links").json()["items"]
    assert listed[0]["revokedAt"]

    # Remove the port again.
    web.get_by_role("button", name="Remove port web").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Remove port").click()
    expect(page.get_by_text("No ports declared")).to_be_visible()
    assert "ports" not in api.get(f"/v1/sandboxes/{sandbox['id']}").json()


def test_open_a_preview_served_from_the_terminal(
    page: Page,
    context: BrowserContext,
    api: httpx.Client,
    sandbox: dict,
    pytestconfig: pytest.Config,
) -> None:
    open_sandbox(page, sandbox)
    expect(connection(page)).to_have_text("Connected", timeout=TERMINAL_TIMEOUT)
    type_line(page, "mkdir -p site && echo '<h1>served-from-mbox</h1>' > site/index.html")
    type_line(page, "python3 -m http.server 8000 --directory site")
    expect(screen(page)).to_contain_text("Serving HTTP", timeout=TERMINAL_TIMEOUT)

    # The port listens but is not declared: Declare it in one click, under the name offered.
    open_tab(page, "Preview")
    listening = page.get_by_role("region", name="Listening ports not declared")
    expect(listening).to_contain_text("Port 8000", timeout=LIFECYCLE_TIMEOUT)
    expect(listening.get_by_label("Name for port 8000")).to_have_value("web")
    listening.get_by_role("button", name="Declare port 8000").click()
    expect(page.get_by_role("status").filter(has_text="Declared")).to_have_text(
        "Declared port web (8000): it can be opened and shared now."
    )
    expect(listening).to_have_count(0)
    declared = api.get(f"/v1/sandboxes/{sandbox['id']}").json()["ports"]
    assert [(p["name"], p["port"], p["protocol"]) for p in declared] == [("web", 8000, "TCP")]
    # A long origin is cut to its cell; the whole of it is its title.
    origin = f"http://8000-{uuid.UUID(sandbox['id']).hex}.preview.localhost"
    web = page.get_by_role("table", name="Ports").get_by_role("row").filter(has_text="web")
    expect(web.locator(f'[title^="{origin}"]')).to_be_visible()

    # Open: the app in a new tab, for this sign-in only: no link is made.
    with context.expect_page() as opened:
        web.get_by_role("button", name="Open web").click()
    preview = opened.value
    expect(preview.get_by_role("heading", name="served-from-mbox")).to_be_visible(
        timeout=LIFECYCLE_TIMEOUT
    )
    assert re.match(r"^http://8000-[0-9a-f]{32}\.preview\.localhost:\d+/$", preview.url)
    # The view cookie is the preview origin's alone: the console's origin never gets it.
    assert "mbox_preview" in [c["name"] for c in context.cookies(preview.url)]
    assert "mbox_preview" not in [c["name"] for c in context.cookies(page.url)]
    preview.close()

    # Embed: the same app in a frame on the console page (its own origin, partitioned cookie).
    web.get_by_role("button", name="Embed web").click()
    frame = page.frame_locator("iframe[title='Embedded preview of port 8000']")
    expect(frame.get_by_role("heading", name="served-from-mbox")).to_be_visible(
        timeout=LIFECYCLE_TIMEOUT
    )
    expect(page.get_by_text("No share links")).to_be_visible()
    assert api.get(f"/v1/sandboxes/{sandbox['id']}/preview-links").json()["items"] == []
    screenshot(page, pytestconfig, "sandbox-preview-embedded.png", full_page=True)
    page.get_by_role("button", name="Close the embedded preview").click()
    expect(page.locator("iframe")).to_have_count(0)


def test_login_shell_in_view_with_history_and_a_way_out(
    page: Page, sandbox: dict, pytestconfig: pytest.Config
) -> None:
    """The console's terminal is bash (the login shell): ArrowUp recalls the last command.
    At 1280x720 it is whole on the screen without scrolling; Esc twice moves the keyboard
    out of it; focus mode gives it the window."""
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"/sandboxes/{sandbox['id']}")
    expect(connection(page)).to_have_text("Connected", timeout=TERMINAL_TIMEOUT)
    box = terminal(page).bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= 720, box
    assert box["height"] >= 200, box
    assert page.evaluate("window.scrollY") == 0
    screenshot(page, pytestconfig, "terminal-1280x720.png")

    type_line(page, "echo hist-$((40+2))")
    expect(line(page, "hist-42")).to_have_count(1, timeout=TERMINAL_TIMEOUT)
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    expect(line(page, "hist-42")).to_have_count(2, timeout=TERMINAL_TIMEOUT)
    expect(screen(page)).not_to_contain_text("^[[A")

    expect(focused_terminal(page)).to_be_focused()
    page.keyboard.press("Tab")  # the terminal keeps Tab (completion)
    expect(focused_terminal(page)).to_be_focused()
    type_line(page, "echo esc-ok")
    expect(line(page, "esc-ok")).to_have_count(1, timeout=TERMINAL_TIMEOUT)
    page.keyboard.type("echo ")
    page.keyboard.press("Escape")  # a single Esc reaches the shell: Esc . is the last word
    page.keyboard.press(".")
    page.keyboard.press("Enter")
    expect(line(page, "esc-ok")).to_have_count(2, timeout=TERMINAL_TIMEOUT)
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    hint = page.locator("#terminal-keys")
    expect(hint).to_be_focused()
    expect(hint).to_contain_text("Press Esc twice")
    page.keyboard.press("Tab")
    expect(focused_terminal(page)).not_to_be_focused()

    page.get_by_role("button", name="Focus mode").click()
    expect(page.get_by_role("group", name="Terminal in focus mode")).to_be_visible()
    expect(focused_terminal(page)).to_be_focused()
    tall = terminal(page).bounding_box()
    assert tall is not None and tall["height"] > box["height"] and tall["y"] < 120, tall
    type_line(page, "echo still-$((1+1))")
    expect(line(page, "still-2")).to_have_count(1, timeout=TERMINAL_TIMEOUT)
    page.get_by_role("button", name="Exit focus mode").click()
    expect(page.get_by_role("group", name="Terminal and its controls")).to_be_visible()
