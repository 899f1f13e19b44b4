"""A small driver of headless Chromium over the DevTools protocol, for the pages' tests
(tests/browser/test_pages.py) and the paint benchmark (tools/bench_pages.py).

Only Debian's packages: chromium and python3-websocket. One browser process; each Page is a tab
attached through the browser's own websocket (flattened sessions). A Page records what a person
would call an error: console.error and console.assert calls, uncaught exceptions, and the
browser's log entries of level error (a resource that failed to load, a CSP refusal).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import websocket  # python3-websocket

CHROMIUM = os.environ.get("SKYSIEVE_CHROMIUM", "/usr/bin/chromium")


class CDPError(RuntimeError):
    pass


class Browser:
    """headless Chromium with a DevTools port of its own choosing (--remote-debugging-port=0)."""

    def __init__(self, path: str = CHROMIUM, timeout: float = 30):
        self.dir = Path(tempfile.mkdtemp(prefix="skysieve-chromium-"))
        self.log = open(self.dir / "chromium.log", "wb")
        self.proc = subprocess.Popen(
            [path, "--headless=new", "--remote-debugging-port=0", f"--user-data-dir={self.dir}",
             "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-background-networking", "--disable-sync",
             "--disable-component-update", "--disable-default-apps", "--mute-audio",
             "--hide-scrollbars", "--force-color-profile=srgb", "about:blank"],
            stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        port_file = self.dir / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while True:
            if port_file.exists():
                lines = port_file.read_text().split("\n")
                if len(lines) >= 2 and lines[0].strip() and lines[1].strip():
                    break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise CDPError("chromium did not start:\n" + self.log_text()[-3000:])
            time.sleep(0.05)
        self.ws_url = f"ws://127.0.0.1:{lines[0].strip()}{lines[1].strip()}"
        self.ws = websocket.create_connection(self.ws_url, timeout=timeout, suppress_origin=True)
        self.next_id = 0
        self.pending: Dict[str, List[dict]] = {}  # session id -> events not yet read

    def log_text(self) -> str:
        try:
            return (self.dir / "chromium.log").read_text(errors="replace")
        except OSError:
            return ""

    # one message at a time: answers are matched by id, events queued per session
    def call(self, method: str, session: Optional[str] = None, timeout: float = 30,
             **params) -> dict:
        self.next_id += 1
        msg: Dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while True:
            m = self._recv(deadline, f"{method} did not answer in {timeout} s")
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise CDPError(f"{method}: {m['error']}")
                return m.get("result", {})

    def _recv(self, deadline: float, why: str) -> dict:
        left = deadline - time.monotonic()
        if left <= 0:
            raise CDPError(why)
        self.ws.settimeout(left)
        try:
            m = json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            raise CDPError(why) from None
        if "method" in m:
            self.pending.setdefault(m.get("sessionId", ""), []).append(m)
        return m

    def pump(self, seconds: float) -> None:
        """Read events for a while (nothing is answered meanwhile)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self._recv(deadline, "")
            except CDPError:
                return

    def page(self, width: int = 1280, height: int = 900) -> "Page":
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        return Page(self, target, session, width, height)

    def close(self) -> None:
        try:
            if getattr(self, "ws", None):
                try:
                    self.call("Browser.close", timeout=5)
                except Exception:
                    pass
                self.ws.close()
        finally:
            if self.proc.poll() is None:
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.log.close()
            shutil.rmtree(self.dir, ignore_errors=True)


class Page:
    def __init__(self, browser: Browser, target: str, session: str, width: int, height: int):
        self.b, self.target, self.session = browser, target, session
        self.errors: List[str] = []
        self.console: List[str] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.viewport(width, height)

    def call(self, method: str, timeout: float = 30, **params) -> dict:
        r = self.b.call(method, session=self.session, timeout=timeout, **params)
        self._drain()
        return r

    def _drain(self) -> List[dict]:
        evs = self.b.pending.pop(self.session, [])
        for e in evs:
            self._note(e)
        return evs

    def _note(self, e: dict) -> None:
        m, p = e["method"], e.get("params", {})
        if m == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            self.console.append(f"{p.get('type')}: {text}")
            if p.get("type") in ("error", "assert"):
                self.errors.append(f"console.{p.get('type')}: {text}")
        elif m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            desc = d.get("exception", {}).get("description") or d.get("text")
            self.errors.append(f"exception: {desc} at {d.get('url')}:{d.get('lineNumber')}")
        elif m == "Log.entryAdded":
            entry = p.get("entry", {})
            if entry.get("level") == "error":
                self.errors.append(f"log ({entry.get('source')}): {entry.get('text')} "
                                   f"{entry.get('url', '')}")

    def wait_event(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for e in self._drain():
                if e["method"] == method:
                    return e
            self.b._recv(deadline, f"no {method} in {timeout} s")

    # ---- what a test does ----

    def viewport(self, width: int, height: int, mobile: bool = False, scale: float = 1) -> None:
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=scale, mobile=mobile)

    def scripts(self, enabled: bool) -> None:
        self.call("Emulation.setScriptExecutionDisabled", value=not enabled)

    def goto(self, url: str, timeout: float = 30) -> None:
        """Navigate and wait for the load event (images and scripts in)."""
        self._drain()
        r = self.call("Page.navigate", url=url)
        if r.get("errorText"):
            raise CDPError(f"navigate {url}: {r['errorText']}")
        self.wait_event("Page.loadEventFired", timeout)

    def eval(self, expr: str, timeout: float = 30) -> Any:
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True,
                      timeout=timeout)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise CDPError(f"evaluate {expr[:80]!r}: "
                           f"{d.get('exception', {}).get('description') or d.get('text')}")
        return r.get("result", {}).get("value")

    def wait_for(self, expr: str, timeout: float = 15, every: float = 0.05) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            v = self.eval(expr)
            if v:
                return v
            if time.monotonic() > deadline:
                raise CDPError(f"waited {timeout} s for {expr!r}")
            self.b.pump(every)
            self._drain()

    def images_loaded(self, timeout: float = 15) -> None:
        self.wait_for("Array.from(document.images).every(i => i.complete)", timeout)

    def mouse(self, kind: str, x: float, y: float, button: str = "none") -> None:
        self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button=button,
                  buttons=1 if button == "left" and kind != "mouseReleased" else 0,
                  clickCount=1 if button == "left" else 0)

    def screenshot(self, path: Path, full: bool = True) -> Path:
        r = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=full)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(r["data"]))
        return path

    def close(self) -> None:
        try:
            self.b.call("Target.closeTarget", targetId=self.target, timeout=5)
        except CDPError:
            pass
