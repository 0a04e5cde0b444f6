"""Benchmark terminals through the real server, against a direct PTY in the same run.

    .venv/bin/python tests/bench/bench_terminal.py [--keys 300] [--terminals 50] [--seconds 30]
    .venv/bin/python tests/bench/bench_terminal.py --smoke   # tiny: the test suite's run

1. Keystroke echo: a key sent over the WebSocket until its echo comes back over the
   WebSocket (WebSocket -> PTY -> WebSocket), against the same key written to a PTY the
   runtime opened directly. Target: added latency p50 <= 3 ms, p99 <= 15 ms.
2. Streaming: N terminals, each printing 40 KB/s for S seconds (numbered lines and a
   checksum computed in the sandbox); every byte must arrive, in order. Target: zero lost
   or reordered bytes with 50 terminals for 30 s. A sandbox holds at most MAX_TERMINALS
   live terminals, so the N are spread evenly over ceil(N / MAX_TERMINALS) sandboxes.

A lost or reordered byte exits non-zero; a missed latency target only prints MISSED.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import sys
import time
import uuid
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from backend.api.terminal import MAX_TERMINALS
from tests.bench.harness import bench_server, check, p50, p99, parse_args, percentiles, rss_mb

GENERATOR = r"""
import hashlib, sys, time
rate, seconds = int(sys.argv[1]), float(sys.argv[2])
digest, sent, line_no, started = hashlib.sha256(), 0, 0, time.monotonic()
out = sys.stdout.buffer
out.write(b"<<BEGIN>>\n"); out.flush()
while sent < rate * seconds:
    chunk = b"".join(
        b"%010d:%s\n" % (line_no + i, (b"%x" % ((line_no + i) * 2654435761)) * 6)
        for i in range(40)
    )
    line_no += 40
    digest.update(chunk); out.write(chunk); out.flush(); sent += len(chunk)
    time.sleep(max(0.0, started + sent / rate - time.monotonic()))
out.write(b"<<END %s %d>>\n" % (digest.hexdigest().encode(), sent)); out.flush()
"""


async def wait_for_prompt(read, marker: bytes = b"$ ") -> None:
    seen = b""
    while marker not in seen:
        seen += await read()


async def echo_ms(send, receive, keys: int) -> list[float]:
    """Type `keys` keys one at a time; each sample is a key's round trip to its echo."""
    await wait_for_prompt(receive)
    samples = []
    for n in range(keys):
        started = time.perf_counter()
        await send(b"a")
        while b"a" not in await receive():
            pass
        samples.append((time.perf_counter() - started) * 1000)
        if n % 100 == 99:
            await send(b"\x15")  # kill the line (canonical mode holds 4 KiB)
            await asyncio.sleep(0.02)
            await receive()
    return samples


async def direct_echo_ms(runtime, sandbox_id: uuid.UUID, keys: int) -> list[float]:
    pty = await runtime.open_pty(sandbox_id, ["/bin/sh"], rows=24, cols=80)
    samples = await echo_ms(pty.write, pty.read, keys)
    await pty.close()
    return samples


async def open_terminal(base: str, sandbox: dict, **query: object) -> ClientConnection:
    params = "&".join(f"{key}={value}" for key, value in query.items())
    url = f"{base.replace('http', 'ws', 1)}/v1/sandboxes/{sandbox['id']}/terminal?{params}"
    return await connect(url, max_size=None, compression=None)


async def websocket_echo_ms(base: str, sandbox: dict, keys: int) -> list[float]:
    socket = await open_terminal(base, sandbox)
    samples = await echo_ms(socket.send, socket.recv, keys)
    await socket.close()
    return samples


async def stream_one(base: str, sandbox: dict, rate: int, seconds: float) -> tuple[bool, int]:
    """Run the generator in one terminal; (every byte arrived in order, bytes checked)."""
    socket = await open_terminal(base, sandbox, rows=50, cols=200)
    await wait_for_prompt(socket.recv)
    await socket.send(f"stty -echo -onlcr; python3 /workspace/gen.py {rate} {seconds}\n")
    received = bytearray()
    while b">>\n" not in received[-200:] or b"<<END " not in received:
        received += await asyncio.wait_for(socket.recv(), seconds + 30)
    await socket.close()
    body = bytes(received).split(b"<<BEGIN>>\n", 1)[1]
    data, end = body.rsplit(b"<<END ", 1)
    claimed_digest, claimed_size = end.split(b">>")[0].split()
    numbers = [int(line.split(b":")[0]) for line in data.splitlines()]
    ordered = numbers == list(range(len(numbers)))
    intact = hashlib.sha256(data).hexdigest().encode() == claimed_digest
    return ordered and intact and len(data) == int(claimed_size), len(data)


async def main(args: argparse.Namespace) -> None:
    # Grace 0: a terminal ends with its last socket, so the echo's frees its slot at once.
    async with bench_server(terminal_recording=False, terminal_grace_seconds=0) as server:
        count = max(1, math.ceil(args.terminals / MAX_TERMINALS))
        sandboxes = await server.running_sandboxes(count)
        for sandbox in sandboxes:
            response = await server.client.put(
                f"/v1/sandboxes/{sandbox['id']}/files/content",
                params={"path": "gen.py"},
                content=GENERATOR.encode(),
            )
            assert response.status_code == 204, response.text
        sandbox = sandboxes[0]
        sandbox_id = uuid.UUID(sandbox["id"])

        direct = await direct_echo_ms(server.runtime, sandbox_id, args.keys)
        through = await websocket_echo_ms(server.base_url, sandbox, args.keys)
        print(f"baseline  keystroke echo, direct PTY     {percentiles(direct)}")
        print(f"mbox      keystroke echo, WebSocket      {percentiles(through)}")
        added50, added99 = p50(through) - p50(direct), p99(through) - p99(direct)
        verdict = "ok" if added50 <= 3 and added99 <= 15 else "MISSED"
        verdict = "not judged (smoke)" if args.smoke else verdict
        print(f"          added: p50 {added50:.3f} ms, p99 {added99:.3f} ms "
              f"(target <= 3 / 15 ms): {verdict}")  # fmt: skip

        before = rss_mb()
        started = time.perf_counter()
        results = await asyncio.gather(
            *(
                stream_one(server.base_url, sandboxes[n % count], args.rate, args.seconds)
                for n in range(args.terminals)
            )
        )
        elapsed = time.perf_counter() - started
        good = sum(ok for ok, _ in results)
        total = sum(size for _, size in results)
        print(
            f"mbox      {args.terminals} terminals in {count} sandboxes x {args.rate // 1000} KB/s"
            f" x {args.seconds:g} s: {good}/{len(results)} intact and in order,"
            f" {total / 1e6:.1f} MB in {elapsed:.1f} s ({total / elapsed / 1e6:.2f} MB/s);"
            f" server RSS {before:.0f} -> {rss_mb():.0f} MB:"
            f" {'ok' if good == len(results) else 'MISSED'}"
        )
        print(json.dumps({"echo_added_p50_ms": round(added50, 3), "streams_intact": good}))
        check(good == len(results), f"{len(results) - good} streams lost or reordered bytes")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=300)
    parser.add_argument("--terminals", type=int, default=50)
    parser.add_argument("--rate", type=int, default=40_000)
    parser.add_argument("--seconds", type=float, default=30)
    smoke = {"keys": 20, "terminals": 2, "seconds": 1}
    asyncio.run(main(parse_args(parser, smoke)))
