"""The kernel driver: run INSIDE a sandbox (`python3 -c <this file's text>`) by the kernel
hub (kernels.py), never imported by the server. It keeps one Jupyter kernel per context
and speaks JSON lines: requests on stdin, replies and execution events on stdout, each
tagged with the request's id so executions in several contexts run at once.

Requests: {"id", "op": "list" | "create" | "delete" | "restart" | "execute" | "cancel", ...}.
Replies: {"id", "event": {...}} while an execution runs (E2B's output events), then
{"id", "done": {...}} or {"id", "error": {"kind": "not_found" | "invalid", "message"}}.

Only the standard library and jupyter_client (the template's python3-jupyter-client).
"""

import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid

from jupyter_client.manager import AsyncKernelManager

MAX_LINE = 16 * 1024 * 1024 - 4096  # the hub reads lines of at most 16 MiB
MAX_CONTEXTS = 16
RESULT_MIMES = {
    "text/plain": "text",
    "text/html": "html",
    "text/markdown": "markdown",
    "image/svg+xml": "svg",
    "image/png": "png",
    "image/jpeg": "jpeg",
    "application/pdf": "pdf",
    "text/latex": "latex",
    "application/json": "json",
    "application/javascript": "javascript",
    "e2b/data": "data",
    "e2b/chart": "chart",
}
KERNEL_ENV = {
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    "PYTHONUNBUFFERED": "1",
    "PYDEVD_DISABLE_FILE_VALIDATION": "1",
}
# E2B's env_vars of one execution: set in the kernel, then put back as they were.
SET_ENV = """import os as __mbox_os
__mbox_saved = {__k: __mbox_os.environ.get(__k) for __k in %(names)s}
__mbox_os.environ.update(%(values)s)"""
RESTORE_ENV = """for __k, __v in __mbox_saved.items():
    if __v is None: __mbox_os.environ.pop(__k, None)
    else: __mbox_os.environ[__k] = __v
del __mbox_saved, __mbox_os"""


class Failed(Exception):
    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


def send(message):
    line = json.dumps(message)
    if len(line) > MAX_LINE:
        size = len(line)
        text = f"[an output of {size} bytes was left out: larger than {MAX_LINE} bytes]\n"
        line = json.dumps({"id": message["id"], "event": stderr_event(text)})
    with WRITING:
        CHANNEL.write(line + "\n")
        CHANNEL.flush()


WRITING = threading.Lock()
CHANNEL = sys.stdout  # the hub's: main() keeps it from the kernels


def own_stdout():
    """The replies get a descriptor of their own; fd 1 becomes stderr, so what a kernel
    or a library writes there cannot break into a reply line."""
    global CHANNEL
    CHANNEL = os.fdopen(os.dup(1), "w", encoding="utf-8")  # not inherited by kernels
    os.dup2(2, 1)
    sys.stdout = sys.stderr


def stderr_event(text):
    return {"type": "stderr", "text": text, "timestamp": time.time_ns()}


def result_event(data, is_main):
    """A display_data or execute_result as E2B's server words it: its known MIME types
    by name, the others in `extra`."""
    data = dict(data)
    event = {"type": "result", "is_main_result": is_main}
    for mime, name in RESULT_MIMES.items():
        if mime in data:
            event[name] = data.pop(mime)
    text = event.get("text")
    if isinstance(text, str) and len(text) > 1 and text[0] == text[-1] == "'":
        event["text"] = text[1:-1]  # a str's repr, as upstream strips it
    if data:
        event["extra"] = data
    return event


def output_event(message):
    """E2B's event for one iopub message, or None."""
    kind, content = message["msg_type"], message["content"]
    if kind == "stream":
        name = "stderr" if content.get("name") == "stderr" else "stdout"
        return {"type": name, "text": content.get("text", ""), "timestamp": time.time_ns()}
    if kind == "execute_result":
        return result_event(content.get("data", {}), True)
    if kind == "display_data":
        return result_event(content.get("data", {}), False)
    if kind == "error":
        traceback = "\n".join(content.get("traceback", []))
        return {
            "type": "error",
            "name": content.get("ename", ""),
            "value": content.get("evalue", ""),
            "traceback": traceback,
        }
    if kind == "execute_input":
        return {"type": "number_of_executions", "execution_count": content.get("execution_count")}
    return None


class Context:
    def __init__(self, cwd):
        self.id = str(uuid.uuid4())
        self.language = "python"
        self.cwd = cwd
        self.lock = asyncio.Lock()  # one execution at a time, as a notebook's cells
        self.manager = None
        self.client = None
        self.runtime_dir = tempfile.mkdtemp(prefix="mbox-kernel-")

    def describe(self):
        return {"id": self.id, "language": self.language, "cwd": self.cwd}

    async def start(self):
        # Unix sockets in a private directory: no TCP port for other programs to find.
        self.manager = AsyncKernelManager(
            kernel_name="python3",
            transport="ipc",
            ip=os.path.join(self.runtime_dir, "kernel"),
            connection_file=os.path.join(self.runtime_dir, "kernel.json"),
        )
        await self.manager.start_kernel(cwd=self.cwd, env={**os.environ, **KERNEL_ENV})
        self.client = self.manager.client()
        self.client.start_channels()
        await self.client.wait_for_ready(timeout=60)

    async def stop(self):
        if self.client is not None:
            self.client.stop_channels()
        if self.manager is not None:
            await self.manager.shutdown_kernel(now=True)
        shutil.rmtree(self.runtime_dir, ignore_errors=True)

    async def restart(self):
        self.client.stop_channels()
        await self.manager.restart_kernel(now=True)
        self.client = self.manager.client()
        self.client.start_channels()
        await self.client.wait_for_ready(timeout=60)

    async def run(self, code, request_id, timeout, quiet=False):
        """Execute `code`, sending its events (none when quiet) until the kernel is idle;
        past `timeout` seconds the kernel is interrupted (a KeyboardInterrupt error). A
        kernel that died since (the code ended its process) is started afresh first, as
        Jupyter's restarter would."""
        if not await self.manager.is_alive():
            await self.restart()
        client = self.client
        msg_id = client.execute(code, silent=quiet, store_history=not quiet, allow_stdin=False)
        deadline = time.monotonic() + timeout if timeout else None
        interrupted = False
        while True:
            if deadline is not None and time.monotonic() > deadline and not interrupted:
                interrupted = True
                await self.manager.interrupt_kernel()
                deadline = time.monotonic() + 10  # then give up on it
            elif deadline is not None and interrupted and time.monotonic() > deadline:
                return
            if client is not self.client or not await self.manager.is_alive():
                if not quiet:
                    send({"id": request_id, "event": dead_kernel()})
                return
            try:
                message = await client.get_iopub_msg(timeout=1)
            except Exception:  # queue.Empty: no message this second
                continue
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "status" and content.get("execution_state") == "idle":
                return
            event = output_event(message)
            if event is not None and not quiet:
                send({"id": request_id, "event": event})


def dead_kernel():
    return {
        "type": "error",
        "name": "KernelDied",
        "value": "the kernel died or was restarted during the execution",
        "traceback": "",
    }


class Driver:
    def __init__(self):
        self.home = os.getcwd()
        self.contexts = {}
        self.default = None
        self.starting = asyncio.Lock()
        self.starting_default = asyncio.Lock()
        self.running = {}  # an execute request's id: the context running it

    async def handle(self, request):
        request_id = request.get("id")
        try:
            done = await getattr(self, "op_" + str(request.get("op")), self.op_unknown)(request)
            send({"id": request_id, "done": done})
        except Failed as exc:
            send({"id": request_id, "error": {"kind": exc.kind, "message": exc.message}})
        except Exception as exc:  # the kernel would not start, or died: in words
            message = f"{type(exc).__name__}: {exc}"[:2000]
            send({"id": request_id, "error": {"kind": "failed", "message": message}})

    async def op_unknown(self, request):
        raise Failed("invalid", f"unknown operation {str(request.get('op'))[:64]!r}")

    async def op_list(self, request):
        return {"contexts": [context.describe() for context in self.contexts.values()]}

    async def op_create(self, request):
        return {"context": (await self.create(request.get("cwd"))).describe()}

    async def create(self, cwd):
        cwd = cwd or self.home
        if not os.path.isdir(cwd):
            raise Failed("invalid", f"cwd {cwd[:256]!r} is not a directory in the sandbox")
        async with self.starting:
            if len(self.contexts) >= MAX_CONTEXTS:
                raise Failed("limit", f"a sandbox keeps at most {MAX_CONTEXTS} contexts")
            context = Context(cwd)
            try:
                await context.start()
            except BaseException:
                await context.stop()
                raise
            self.contexts[context.id] = context
            return context

    def find(self, context_id):
        context = self.contexts.get(context_id)
        if context is None:
            raise Failed("not_found", f"context {str(context_id)[:64]} not found")
        return context

    async def op_delete(self, request):
        context = self.find(request.get("context_id"))
        del self.contexts[context.id]
        if self.default is context:
            self.default = None
        await context.stop()
        return {}

    async def op_restart(self, request):
        await self.find(request.get("context_id")).restart()
        return {}

    async def op_execute(self, request):
        context_id = request.get("context_id")
        if context_id:
            context = self.find(context_id)
        else:
            async with self.starting_default:
                if self.default is None or self.default.id not in self.contexts:
                    self.default = await self.create(None)
            context = self.default
        env = request.get("env_vars") or {}
        timeout = request.get("timeout") or None
        async with context.lock:
            self.running[request.get("id")] = context
            if env:
                setting = SET_ENV % {"names": repr(list(env)), "values": repr(dict(env))}
                await context.run(setting, None, 30, quiet=True)
            try:
                await context.run(request.get("code", ""), request.get("id"), timeout)
            finally:
                del self.running[request.get("id")]
                if env:
                    await context.run(RESTORE_ENV, None, 30, quiet=True)
        return {}

    async def op_cancel(self, request):
        """Its caller went away: interrupt the kernel running that request, if any."""
        context = self.running.get(request.get("request"))
        if context is not None:
            await context.manager.interrupt_kernel()
        return {}

    async def close(self):
        for context in list(self.contexts.values()):
            with contextlib.suppress(Exception):
                await context.stop()


def read_requests(loop, queue):
    """stdin's lines into the loop's queue (a thread: stdin is a plain pipe); None at
    its end, when the hub is gone."""
    for line in sys.stdin.buffer:
        loop.call_soon_threadsafe(queue.put_nowait, line)
    loop.call_soon_threadsafe(queue.put_nowait, None)


async def main():
    own_stdout()
    driver = Driver()
    queue = asyncio.Queue()
    loop = asyncio.get_running_loop()
    threading.Thread(target=read_requests, args=(loop, queue), daemon=True).start()
    tasks = set()
    send({"id": None, "done": {"ready": True, "home": driver.home}})
    while (line := await queue.get()) is not None:
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                continue
        except ValueError:
            continue
        task = asyncio.ensure_future(driver.handle(request))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    for task in tasks:
        task.cancel()
    await driver.close()


if __name__ == "__main__":
    asyncio.run(main())
