"""`sb.get_host(port)`: the port's preview origin (`{port}-{sandboxID}.{domain}`), opened
by the program's traffic access token, never by anyone else's, and the token never
reaches the sandbox's app."""

from __future__ import annotations

import time

import httpx
from e2b import Sandbox

from tests.e2b.conftest import E2BProject
from tests.support.live import LiveServer

APP = (
    "import http.server\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        body = repr(sorted(k.lower() for k in self.headers.keys())).encode()\n"
    "        self.send_response(200); self.end_headers(); self.wfile.write(body)\n"
    "http.server.HTTPServer(('127.0.0.1', 8000), H).serve_forever()\n"
)


def fetch(live: LiveServer, host: str, token: str | None) -> httpx.Response:
    """Through the server's address, as the preview host (no DNS for *.localhost here)."""
    headers = {"Host": host}
    if token is not None:
        headers["E2B-Traffic-Access-Token"] = token
    return httpx.get(f"{live.url}/", headers=headers)


def test_get_host_serves_the_port_to_its_caller_only(e2b_env: E2BProject, live: LiveServer) -> None:
    sb = Sandbox.create(template=e2b_env.template, timeout=120)
    other = Sandbox.create(template=e2b_env.template, timeout=120)
    try:
        sb.files.write("app.py", APP) if False else sb.commands.run(
            f"cat > app.py <<'EOF'\n{APP}EOF"
        )
        sb.commands.run("python3 app.py", background=True)
        host = sb.get_host(8000)
        assert host.startswith(f"8000-{sb.sandbox_id}.")
        token = sb.traffic_access_token
        deadline = time.monotonic() + 10
        while (answer := fetch(live, host, token)).status_code != 200:
            assert time.monotonic() < deadline, answer.text
            time.sleep(0.1)
        assert "e2b-traffic-access-token" not in answer.text  # the app never sees it
        assert fetch(live, host, None).status_code == 401
        assert fetch(live, host, other.traffic_access_token).status_code == 401
        assert fetch(live, host, "mbxs_forged.00").status_code == 401
    finally:
        sb.kill()
        other.kill()
