import asyncio, statistics, time, uuid
import httpcore, pytest
from backend.api.proxy import SandboxNetwork
from tests.runtime.test_preview import _listening, PORT

APP = r'''
import asyncio
BUF = b"x" * (1 << 20)
async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ")[1]
            if path == b"/huge":
                n = 256
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (n << 20))
                for _ in range(n):
                    writer.write(BUF); await writer.drain()
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
    except Exception:
        pass
    finally:
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 8000)
    async with server: await server.serve_forever()
asyncio.run(main())
'''

async def test_bench(world, served):
    sandbox = await world.running_sandbox(exposedPorts=[{"name": "web", "port": PORT}],
        startupCommand=["sh", "-c", "until [ -f app.py ]; do sleep 0.05; done; exec python3 app.py"])
    r = await world.client.put(f"/v1/sandboxes/{sandbox['id']}/files/content", params={"path": "app.py"}, content=APP.encode())
    assert r.status_code == 204
    await _listening(world, sandbox["id"])
    sid = uuid.UUID(sandbox["id"])
    direct = httpcore.AsyncConnectionPool(network_backend=SandboxNetwork(world.runtime))
    proxied = httpcore.AsyncConnectionPool()
    host = served.split("//")[1]
    purl = f"{served}/v1/sandboxes/{sandbox['id']}/ports/{PORT}/proxy"
    durl = f"http://{sid.hex}:{PORT}"
    hdr = [(b"host", b"localhost:8000")]
    async def lat(pool, url, n=500):
        ts = []
        for _ in range(n):
            t = time.perf_counter()
            resp = await pool.request("GET", url + "/small", headers=hdr if pool is direct else [(b"host", host.encode())])
            ts.append(time.perf_counter() - t)
            assert resp.status == 200
        return statistics.median(ts) * 1000, statistics.quantiles(ts, n=100)[98] * 1000
    ts=[]
    for _ in range(200):
        t=time.perf_counter(); rr = await world.client.get(f"/v1/sandboxes/{sandbox['id']}/ports/{PORT}/proxy/small"); ts.append(time.perf_counter()-t)
    print("asgi p50", statistics.median(ts)*1000)
    ts=[]
    for _ in range(200):
        t=time.perf_counter(); rr = await proxied.request("GET", f"{served}/v1/sandboxes/{sandbox['id']}", headers=[(b"host", host.encode())]); ts.append(time.perf_counter()-t)
    print("served plain api p50", statistics.median(ts)*1000)
    await lat(direct, durl, 50); await lat(proxied, purl, 50)
    d = await lat(direct, durl); p = await lat(proxied, purl)
    print(f"\nlatency direct p50={d[0]:.3f}ms p99={d[1]:.3f}  proxied p50={p[0]:.3f}ms p99={p[1]:.3f}  added p50={p[0]-d[0]:.3f}ms")
    async def thr(pool, url, headers):
        t = time.perf_counter(); size = 0
        async with pool.stream("GET", url + "/huge", headers=headers) as resp:
            async for c in resp.aiter_stream():
                size += len(c)
        dt = time.perf_counter() - t
        return size / dt / 1e6
    print(f"throughput direct {await thr(direct, durl, hdr):.0f} MB/s, proxied {await thr(proxied, purl, [(b'host', host.encode())]):.0f} MB/s")
    # preview origin latency
    link = await world.post(f"/v1/sandboxes/{sandbox['id']}/preview-links", {"port": PORT})
    from urllib.parse import urlsplit
    parts = urlsplit(link["url"])
    r = await world.client.get(f"{parts.path}?{parts.query}", headers={"Host": parts.netloc})
    cookie = r.cookies["mbox_preview"]
    ph = [(b"host", parts.netloc.encode()), (b"cookie", f"mbox_preview={cookie}".encode())]
    ts = []
    for _ in range(500):
        t = time.perf_counter()
        resp = await proxied.request("GET", served + "/small", headers=ph)
        ts.append(time.perf_counter() - t)
        assert resp.status == 200, resp.content
    print(f"preview origin p50={statistics.median(ts)*1000:.3f}ms")
    print(f"preview origin throughput {await thr(proxied, served, ph):.0f} MB/s")
    await direct.aclose(); await proxied.aclose()
