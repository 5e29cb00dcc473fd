"""A real headless Chromium driven over the DevTools protocol (aiohttp's websocket client, which
Ray already installs): load a page, collect console errors, exceptions, log errors and every
network request, read the images' decoded sizes and take a screenshot."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import signal
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    """The Chromium executable on PATH, if any."""
    return next((p for p in map(shutil.which, CHROMIUM) if p), None)


@dataclass
class PageLoad:
    """What loading a page produced."""

    errors: list[str] = field(default_factory=list)       # console errors, exceptions, log errors
    requests: list[str] = field(default_factory=list)     # every URL the page asked for
    images: list[dict[str, Any]] = field(default_factory=list)   # complete, naturalWidth, ...
    screenshot: bytes = b""                                # PNG of the first figure in view


def load(page: Path, timeout_s: float = 60.0) -> PageLoad:
    """Open ``page`` (a local file) in a fresh headless Chromium and report what happened."""
    exe = find_chromium()
    assert exe, "chromium not found"
    # Chromium's helper processes (renderer, GPU, crash handler) may still write to the profile
    # when the browser is killed: kill the whole process group, and let a last write that races
    # the cleanup leave a stray file in /tmp rather than fail the test
    with tempfile.TemporaryDirectory(prefix="migsim-chromium-",
                                     ignore_cleanup_errors=True) as profile:
        proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--remote-debugging-port=0", f"--user-data-dir={profile}",
             "--window-size=1280,1000", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            port = _devtools_port(proc, timeout_s)
            return asyncio.run(asyncio.wait_for(_drive(port, page.resolve().as_uri()), timeout_s))
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()


def _devtools_port(proc: subprocess.Popen, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        m = re.search(r"DevTools listening on ws://[\d.]+:(\d+)/", line)
        if m:
            return int(m.group(1))
    raise RuntimeError("chromium did not start its DevTools endpoint: " + "".join(seen[-10:]))


async def _drive(port: int, url: str) -> PageLoad:
    import aiohttp

    out = PageLoad()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/json/list") as r:
            targets = await r.json(content_type=None)
        ws_url = next(t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page")
        async with http.ws_connect(ws_url, max_msg_size=0) as ws:
            ids = iter(range(1, 10_000))
            loaded = asyncio.Event()
            pending: dict[int, asyncio.Future] = {}

            async def reader() -> None:
                async for msg in ws:
                    data = json.loads(msg.data)
                    if "id" in data and data["id"] in pending:
                        pending.pop(data["id"]).set_result(data)
                        continue
                    method, params = data.get("method"), data.get("params", {})
                    if method == "Runtime.consoleAPICalled" and params.get("type") in (
                            "error", "assert"):
                        out.errors.append("console: " + " ".join(
                            str(a.get("value", a.get("description", ""))) for a in params["args"]))
                    elif method == "Runtime.exceptionThrown":
                        out.errors.append("exception: " + params["exceptionDetails"].get("text", ""))
                    elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                        out.errors.append("log: " + params["entry"].get("text", ""))
                    elif method == "Network.requestWillBeSent":
                        out.requests.append(params["request"]["url"])
                    elif method == "Page.loadEventFired":
                        loaded.set()

            task = asyncio.create_task(reader())

            async def call(method: str, **params: Any) -> dict[str, Any]:
                i = next(ids)
                fut = asyncio.get_running_loop().create_future()
                pending[i] = fut
                await ws.send_str(json.dumps({"id": i, "method": method, "params": params}))
                res = await fut
                if "error" in res:
                    raise RuntimeError(f"{method}: {res['error']}")
                return res.get("result", {})

            for domain in ("Runtime", "Log", "Network", "Page"):
                await call(f"{domain}.enable")
            await call("Page.navigate", url=url)
            await loaded.wait()
            res = await call("Runtime.evaluate", returnByValue=True, expression=(
                "JSON.stringify([...document.images].map(i => ({complete: i.complete, "
                "naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight, alt: i.alt})))"))
            out.images = json.loads(res["result"]["value"])
            await call("Runtime.evaluate", expression=(
                "document.querySelector('figure img') && "
                "document.querySelector('figure img').scrollIntoView()"))
            shot = await call("Page.captureScreenshot", format="png")
            out.screenshot = base64.b64decode(shot["data"])
            task.cancel()
    return out
