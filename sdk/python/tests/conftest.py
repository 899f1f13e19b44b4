"""Fixtures of the Python client's tests: stores built with the real `skysieve` binary, servers
(`skysieve serve`) on free loopback ports, a live broker publishing tags, and what the tests expect
of each, computed from the alerts themselves.

Environment (ctest sets both; tests/CMakeLists.txt):
  SKYSIEVE_BINARY       the skysieve binary (default: build-asan/ or build/ of the source tree)
  SKYSIEVE_SHARED_DATA  the shared real alerts (default: ../shared/data beside the source tree);
                        the tests marked `shared` skip, saying so, when it is absent
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import pandas as pd
import pytest
import requests

HERE = Path(__file__).resolve().parent
SDK = HERE.parent
REPO = SDK.parent.parent
sys.path.insert(0, str(SDK))  # the package from the tree, installed or not

import skysieve  # noqa: E402

TAGGER = HERE / "data" / "py_tagger.lua"
SEARCH_NOT_YET = "search: not yet"  # core/serve/tmp_stubs.c until the search branch lands


# ---- the binary and the data ----

def _binary() -> Path:
    env = os.environ.get("SKYSIEVE_BINARY")
    if env:
        return Path(env)
    for cand in (REPO / "build-asan" / "skysieve", REPO / "build" / "skysieve"):
        if cand.exists():
            return cand
    raise pytest.UsageError("no skysieve binary: set SKYSIEVE_BINARY (ctest does)")


def _shared() -> Path:
    return Path(os.environ.get("SKYSIEVE_SHARED_DATA") or (REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def binary() -> Path:
    b = _binary()
    if not os.access(b, os.X_OK):
        pytest.fail(f"SKYSIEVE_BINARY={b} is not an executable")
    return b


def run(binary: Path, *args, cwd: Optional[Path] = None, timeout: float = 60) -> str:
    """Run `skysieve ARGS`; fail the test with its output unless it exits 0. Return stdout."""
    p = subprocess.run([str(binary), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                       timeout=timeout)
    if p.returncode != 0:
        pytest.fail(f"skysieve {' '.join(map(str, args))} exited {p.returncode}:\n"
                    f"{p.stdout[-2000:]}\n{p.stderr[-4000:]}")
    return p.stdout


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- servers ----

@dataclass
class Server:
    """A running `skysieve serve`."""

    url: str
    proc: subprocess.Popen
    log: Path
    token: Optional[str] = None

    def client(self, **kw) -> skysieve.Client:
        kw.setdefault("token", self.token)
        kw.setdefault("timeout", 30)
        return skysieve.Client(self.url, **kw)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        """SIGTERM, and check it stopped cleanly (exit 0: no sanitizer report either)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"skysieve serve did not stop on SIGTERM:\n"
                                     f"{self.log_text()[-3000:]}")
        if self.proc.returncode != 0:
            raise AssertionError(f"skysieve serve exited {self.proc.returncode}:\n"
                                 f"{self.log_text()[-3000:]}")


def start_server(binary: Path, workdir: Path, name: str, *args, token: Optional[str] = None
                 ) -> Server:
    """Start `skysieve serve ARGS --listen 127.0.0.1:PORT` and wait until /api/v1 answers."""
    log = workdir / f"{name}.log"
    for attempt in range(3):
        port = free_port()
        with open(log, "ab") as lf:
            proc = subprocess.Popen([str(binary), "serve", *map(str, args),
                                     "--listen", f"127.0.0.1:{port}"],
                                    stdout=lf, stderr=lf, cwd=workdir)
        url = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                if requests.get(url + "/api/v1", headers=headers, timeout=2).status_code == 200:
                    return Server(url, proc, log, token)
            except requests.exceptions.RequestException:
                pass
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    pytest.fail(f"skysieve serve {' '.join(map(str, args))} did not answer:\n"
                f"{log.read_text(errors='replace')[-4000:]}")


@pytest.fixture(scope="session")
def servers():
    """Every server started, stopped (and checked) at the end of the session."""
    started: List[Server] = []
    yield started
    errors = []
    for s in started:
        try:
            s.stop()
        except AssertionError as e:
            errors.append(str(e))
    if errors:
        pytest.fail("\n".join(errors))


# ---- the simulated night: what was ingested, and what the tests expect of it ----

EXTRA_CSV = """alert_id,object_id,survey,ra,dec,mjd,passband,mag,magerr,maglim
ul-1,SIMUL1,sim,160.0,5.0,60001.0,g,,,22.5
x-1,SIMUL1,sim,160.0,5.0,60002.0,g,21.0,0.1,22.5
ul-2,SIMUL1,sim,160.00001,5.0,60003.0,r,,,22.0
x-2,SIMUL1,sim,160.0,5.00001,60004.0,r,20.5,0.1,22.0
x-3,SIMUL1,sim,160.0,5.0,60005.0,g,20.0,0.1,22.5
t-1,TWIN1,sim,161.0,5.0,60001.0,g,19.0,0.1,22.5
t-2,TWIN1,twin,162.0,5.0,60001.0,g,19.0,0.1,22.5
"""


@dataclass
class Night:
    """A simulated night as ingested, and the truth the tests compare the API with."""

    dir: Path
    alerts: pd.DataFrame          # every row ingested, in ingest order (night, then extra)
    truth: Dict[str, dict]        # object id -> simulate --truth line
    split_mjd: float              # the night's rows before it were ingested before the catalog
    catalog: Dict[str, str]       # catalog row name -> object id (catalog "pycat")
    watch: Dict[str, str]         # watch object name -> object id (watch list "pywatch")
    store: Path = None
    server: Server = None

    def of(self, object_id: str) -> pd.DataFrame:
        """The rows of one object, in ingest order."""
        return self.alerts[self.alerts.object_id == object_id]

    def detections(self, object_id: str) -> pd.DataFrame:
        rows = self.of(object_id)
        return rows[rows.mag.notna()]

    def objects(self) -> List[str]:
        """The simulated sources that gave alerts (not the hand-made SIMUL1 and TWIN1)."""
        return sorted(set(self.alerts.object_id) - {"SIMUL1", "TWIN1"})

    def expected_tag(self, object_id: str, tag: str) -> Optional[pd.Series]:
        """The alert whose run set @p tag on the object's locus (py_tagger's rules), or None."""
        det = self.detections(object_id)
        if tag == "py_three":
            return det.iloc[2] if len(det) >= 3 else None
        if tag == "py_bright":
            b = det[det.mag < 18]
            return b.iloc[0] if len(b) else None
        raise ValueError(tag)

    def tagged(self, tag: str) -> Dict[str, pd.Series]:
        out = {}
        for o in self.alerts.object_id.unique():
            a = self.expected_tag(o, tag)
            if a is not None:
                out[o] = a
        return out


def write_set(path: Path) -> Path:
    path.write_text(f"[filter tagger]\npath = {TAGGER}\npriority = 10\n")
    return path


@pytest.fixture(scope="session")
def night(binary, tmp_path_factory, servers) -> Night:
    """A simulated night (60 sources over 10 epochs, and a few hand-made alerts: upper limits,
    one object id in two surveys) ingested with the tagging filter; a catalog and a watch list
    loaded half-way, so that they match on the loci's later alerts; a server over it."""
    d = tmp_path_factory.mktemp("night")
    set_ini = write_set(d / "set.ini")
    run(binary, "simulate", "--sources", 60, "--seed", 5, "--out", d / "night.csv",
        "--truth", d / "truth.jsonl", "--quiet")
    (d / "extra.csv").write_text(EXTRA_CSV)
    night_rows = pd.read_csv(d / "night.csv", dtype={"alert_id": str, "object_id": str})
    extra_rows = pd.read_csv(d / "extra.csv", dtype={"alert_id": str, "object_id": str})
    truth = {}
    for line in (d / "truth.jsonl").read_text().splitlines():
        t = json.loads(line)
        truth[t["object_id"]] = t
    split = float(night_rows.mjd.min() + 8.5)  # after the 5th epoch
    lines = (d / "night.csv").read_text().splitlines(keepends=True)
    head, body = lines[0], lines[1:]
    first = [ln for ln, m in zip(body, night_rows.mjd) if m < split]
    second = [ln for ln, m in zip(body, night_rows.mjd) if m >= split]
    (d / "part1.csv").write_text(head + "".join(first))
    (d / "part2.csv").write_text(head + "".join(second))

    # catalog and watch objects: at the true positions of sources seen in both halves
    late = set(night_rows[night_rows.mjd >= split].object_id)
    picks = [o for o in sorted(truth) if o in late]
    catalog = {f"cat{i}": picks[i] for i in range(4)}
    watch = {f"watch{i}": picks[10 + i] for i in range(2)}
    (d / "pycat.csv").write_text("name,ra,dec,vmag\n" + "".join(
        f"{n},{truth[o]['ra']:.8f},{truth[o]['dec']:.8f},{12 + i}\n"
        for i, (n, o) in enumerate(catalog.items())))
    (d / "pywatch.csv").write_text("name,ra,dec,radius\n" + "".join(
        f"{n},{truth[o]['ra']:.8f},{truth[o]['dec']:.8f},4\n" for n, o in watch.items()))

    store = d / "store"
    run(binary, "ingest", "--store", store, "--radius", 5, "--filters", set_ini, "--quiet",
        d / "part1.csv")
    run(binary, "catalog", "load", "--store", store, "--name", "pycat", "--radius", 4,
        d / "pycat.csv")
    run(binary, "watch", "add", "--store", store, "--name", "pywatch", d / "pywatch.csv")
    run(binary, "ingest", "--store", store, "--filters", set_ini, "--quiet", d / "part2.csv",
        d / "extra.csv")

    alerts = pd.concat([night_rows, extra_rows], ignore_index=True)
    alerts["survey"] = alerts["survey"].fillna("sim")
    n = Night(d, alerts, truth, split, catalog, watch, store)
    n.server = start_server(binary, d, "serve-night", "--store", store)
    servers.append(n.server)
    return n


@pytest.fixture(scope="session")
def client(night) -> skysieve.Client:
    with night.server.client() as c:
        yield c


@pytest.fixture(scope="session")
def search_ready(client):
    """Skip, naming the reason, while the server's locus search is the stub of
    core/serve/tmp_stubs.c (the search branch has not landed); any other failure fails."""
    try:
        client.search_page(page_size=1)
    except skysieve.BadRequest as e:
        if e.detail == SEARCH_NOT_YET:
            pytest.skip("the locus search has not landed: the server answers 400 "
                        f"'{SEARCH_NOT_YET}' (core/serve/tmp_stubs.c)")
        raise
    return True


# ---- a server that wants a token ----

TOKEN = "py-client-test-token-3f9a"


@pytest.fixture(scope="session")
def token_server(binary, night, servers) -> Server:
    tok = night.dir / "token"
    tok.write_text(TOKEN + "\n")
    s = start_server(binary, night.dir, "serve-token", "--store", night.store, "--token-file",
                     tok, token=TOKEN)
    servers.append(s)
    return s


# ---- the shared real alerts ----

ZTF_DIRS = ("ztf-avro-alert-v3.2-v3.3", "kowalski-20200202-v3.3", "kowalski-20231012-v4.01",
            "fink-local-v3.3")
RUBIN_DIR = "rubin-lsstcam-v9.0"


@dataclass
class Real:
    dir: Path
    shared: Path
    store: Path
    inputs: List[Path] = field(default_factory=list)
    server: Server = None


@pytest.fixture(scope="session")
def real(binary, tmp_path_factory, servers) -> Real:
    """The shared ZTF and Rubin alerts (SKYSIEVE_SHARED_DATA) ingested with the tagging filter,
    the 3HSP catalog loaded, and a server over them; skipped when the data is absent."""
    shared = _shared()
    inputs = [shared / "ztf" / d for d in ZTF_DIRS] + [shared / "lsst" / RUBIN_DIR]
    missing = [str(p) for p in inputs if not p.is_dir()]
    if missing:
        pytest.skip(f"the shared real alerts are absent ({len(missing)} of ZTF's and Rubin's "
                    f"folders missing under {shared}; set SKYSIEVE_SHARED_DATA)")
    d = tmp_path_factory.mktemp("real")
    set_ini = write_set(d / "set.ini")
    store = d / "store"
    run(binary, "ingest", "--store", store, "--filters", set_ini, "--quiet", *inputs)
    cat = shared / "catalogs" / "3hsp.csv"
    if cat.exists():
        run(binary, "catalog", "load", "--store", store, "--name", "3hsp", cat)
    r = Real(d, shared, store, inputs)
    r.server = start_server(binary, d, "serve-real", "--store", store)
    servers.append(r.server)
    return r


@pytest.fixture(scope="session")
def real_client(real) -> skysieve.Client:
    with real.server.client() as c:
        yield c


def inspect_alerts(binary: Path, path: Path) -> List[dict]:
    """What `skysieve inspect` decodes from an alert file: the alert and its history, each as
    {alert_id, survey, object_id, mjd, kind, properties} (the decoder's view, not the store's)."""
    out = []
    for line in run(binary, "inspect", path).splitlines():
        rec = json.loads(line)
        if "alert" in rec:
            out.append(rec["alert"])
            out.extend(rec.get("history") or [])
    return out


# ---- a live broker publishing its tags ----

@dataclass
class Live:
    dir: Path
    conf: Path
    pull: str
    proc: subprocess.Popen
    server: Server = None
    watch: Dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="session")
def live(binary, tmp_path_factory, servers) -> Live:
    """`skysieve run` with the tagging filter, a pull input and [output] publish, its store
    holding a watch list; `skysieve serve --config` of it (for /stream and /filters)."""
    d = tmp_path_factory.mktemp("live")
    write_set(d / "set.ini")
    run(binary, "simulate", "--sources", 12, "--epochs", 3, "--seed", 9, "--scatter", 0.1,
        "--field", "30,-10,0.5", "--out", d / "send.csv", "--truth", d / "truth.jsonl",
        "--quiet")
    truth = [json.loads(l) for l in (d / "truth.jsonl").read_text().splitlines()]
    watch = {"lw0": truth[0]["object_id"], "lw1": truth[5]["object_id"]}
    by_id = {t["object_id"]: t for t in truth}
    (d / "watch.csv").write_text("name,ra,dec,radius\n" + "".join(
        f"{n},{by_id[o]['ra']:.8f},{by_id[o]['dec']:.8f},2\n" for n, o in watch.items()))
    run(binary, "watch", "add", "--store", d / "store", "--name", "pylive", d / "watch.csv")
    pull = f"ipc://{d}/in.ipc"
    conf = d / "broker.ini"
    conf.write_text(
        "[broker]\nstore = store\nrun_dir = run\nmap_size = 64M\nstats_interval = 0\n\n"
        f"[input pull]\naddress = {pull}\n\n"
        "[filters]\nset = set.ini\nworkers = 1\n\n"
        f"[output]\npublish = ipc://{d}/tags.ipc\n\n"
        f"[control]\naddress = ipc://{d}/ctl.ipc\n")
    log = open(d / "broker.log", "ab")
    proc = subprocess.Popen([str(binary), "run", "--config", str(conf)], stdout=log,
                            stderr=log, cwd=d)
    lv = Live(d, conf, pull, proc, watch=watch)
    try:
        deadline = time.monotonic() + 30
        while not (d / "in.ipc").exists() or not (d / "ctl.ipc").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("skysieve run did not start:\n"
                            + (d / "broker.log").read_text(errors="replace")[-4000:])
            time.sleep(0.05)
        lv.server = start_server(binary, d, "serve-live", "--config", conf)
        servers.append(lv.server)
        yield lv
    finally:
        if lv.server is not None:
            lv.server.stop()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
        if proc.returncode != 0:
            raise AssertionError(f"skysieve run exited {proc.returncode}:\n"
                                 + (d / "broker.log").read_text(errors="replace")[-4000:])
