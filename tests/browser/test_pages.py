"""The pages of `skysieve serve` (core/serve/web_*.c) in headless Chromium: what a person sees.

Two sites are built here with the real binary:
  - a simulated night (always): `skysieve simulate` (one jump source) ingested with the contrib jump
    filter, then a live broker (`skysieve run`) over that store and `skysieve serve --config` of it,
    so that /tags gets the broker's stream and /broker its filters; a second jump source, sent to
    the broker while a page is open, arrives live and matches a catalog and a watch list;
  - the shared ZTF and Rubin alerts (../shared/data, SKYSIEVE_SHARED_DATA): skipped, saying so,
    when absent.
Every page is loaded at desktop and phone width with its console watched; screenshots of each go
to SKYSIEVE_BROWSER_ARTIFACTS (ctest: build folder's tests/browser-artifacts/). Without Chromium
(SKYSIEVE_CHROMIUM, default /usr/bin/chromium) the whole module skips, saying so.

Environment (ctest sets them; tests/CMakeLists.txt): SKYSIEVE_BINARY, SKYSIEVE_SHARED_DATA,
SKYSIEVE_CONTRIB (filters-contrib/), SKYSIEVE_BROWSER_ARTIFACTS.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

import cdp  # noqa: E402

BINARY = Path(os.environ.get("SKYSIEVE_BINARY") or REPO / "build-asan" / "skysieve").resolve()
SHARED = Path(os.environ.get("SKYSIEVE_SHARED_DATA") or REPO.parent / "shared" / "data")
CONTRIB = Path(os.environ.get("SKYSIEVE_CONTRIB") or REPO / "filters-contrib")
ARTIFACTS = Path(os.environ.get("SKYSIEVE_BROWSER_ARTIFACTS")
                 or BINARY.parent / "tests" / "browser-artifacts")
PHONE = 375

if not os.access(cdp.CHROMIUM, os.X_OK):
    pytest.skip(f"no Chromium at {cdp.CHROMIUM} (install Debian's chromium, or set "
                "SKYSIEVE_CHROMIUM): the pages' browser tests cannot run", allow_module_level=True)


# ---- processes ----

def sks(*args, timeout: float = 120) -> str:
    p = subprocess.run([str(BINARY), *map(str, args)], capture_output=True, text=True,
                       timeout=timeout)
    assert p.returncode == 0, (f"skysieve {' '.join(map(str, args))} exited {p.returncode}:\n"
                               f"{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    return p.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str):
    """(status, headers, body) of a GET, errors included."""
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


@dataclass
class Proc:
    proc: subprocess.Popen
    log: Path

    def stop(self) -> None:
        """SIGTERM; it must stop cleanly (exit 0: no sanitizer report either)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        text = self.log.read_text(errors="replace")
        assert self.proc.returncode == 0, f"{self.log.name}: exited {self.proc.returncode}\n" \
                                          + text[-4000:]
        # UBSan reports and goes on: its report fails the test all the same
        assert "runtime error" not in text, f"{self.log.name}: {text[-4000:]}"


def start(workdir: Path, name: str, *args) -> Proc:
    log = workdir / f"{name}.log"
    with open(log, "ab") as lf:
        p = subprocess.Popen([str(BINARY), *map(str, args)], stdout=lf, stderr=lf, cwd=workdir)
    return Proc(p, log)


def serve(workdir: Path, name: str, *args) -> tuple:
    """`skysieve serve ARGS` on a free port, once /api/v1 answers: (Proc, base URL)."""
    port = free_port()
    s = start(workdir, name, "serve", *args, "--listen", f"127.0.0.1:{port}")
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and s.proc.poll() is None:
        try:
            if get(url + "/api/v1")[0] in (200, 401):  # 401: it wants its token
                return s, url
        except OSError:
            pass
        time.sleep(0.05)
    s.stop()
    pytest.fail(f"skysieve serve did not answer:\n{s.log.read_text(errors='replace')[-3000:]}")


def sexagesimal(ra: float, dec: float) -> str:
    """'HH:MM:SS.SS +DD:MM:SS.S', as an astronomer types a position."""
    def parts(v: float, places: int):
        t = round(abs(v) * 3600 * 10 ** places)
        whole, frac = divmod(t, 10 ** places)
        return whole // 3600, whole // 60 % 60, whole % 60, frac
    h, m, s, f = parts(ra / 15, 2)
    d, dm, ds, df = parts(dec, 1)
    return f"{h:02d}:{m:02d}:{s:02d}.{f:02d} {'-' if dec < 0 else '+'}{d:02d}:{dm:02d}:{ds:02d}.{df}"


# ---- the sites ----

@dataclass
class Site:
    dir: Path
    url: str
    procs: List[Proc] = field(default_factory=list)
    jump_oid: str = ""      # the jump source's object id (truth)
    jump_locus: str = ""
    truth: Dict[str, dict] = field(default_factory=dict)
    conf: Optional[Path] = None
    pull: str = ""
    late: Optional[Path] = None  # the second jump source's alerts, for the live test
    late_truth: Optional[dict] = None

    def locus_of(self, object_id: str, where: Optional[dict] = None) -> str:
        """The locus of a survey object id, or of the source at @p where (a truth line)."""
        q = urllib.parse.urlencode({"object_id": object_id} if not where else
                                   {"ra": where["ra"], "dec": where["dec"], "radius": 5})
        st, _, body = get(f"{self.url}/api/v1/loci?{q}")
        items = json.loads(body)["items"] if st == 200 else []
        assert len(items) == 1, f"object {object_id}: {st} {body[:300]!r}"
        return items[0]["locus_id"]


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    """The simulated night, its live broker and the server of both."""
    assert os.access(BINARY, os.X_OK), f"SKYSIEVE_BINARY={BINARY} is not an executable"
    d = tmp_path_factory.mktemp("night")
    (d / "set.ini").write_text(f"[filter jump_lua]\npath = {CONTRIB / 'jump' / 'jump.lua'}\n")
    sks("simulate", "--out", d / "night.avro", "--truth", d / "truth.jsonl", "--quiet")
    truth = {t["object_id"]: t
             for t in map(json.loads, (d / "truth.jsonl").read_text().splitlines())}
    jumps = [o for o, t in truth.items() if t["model"] == "jump"]
    assert len(jumps) == 1, f"the default mix has one jump source, not {jumps}"
    # a source of 120 measurements (alert ids of its own: simulations number theirs from 1)
    sks("simulate", "--model", "constant=1", "--epochs", 30, "--field", "200,20,0.001",
        "--seed", 3, "--out", d / "long0.csv", "--quiet")
    head, *body = (d / "long0.csv").read_text().splitlines(keepends=True)
    (d / "long.csv").write_text(head + "".join("long" + line for line in body))
    sks("ingest", "--store", d / "store", "--radius", 5, "--filters", d / "set.ini", "--quiet",
        d / "night.avro", d / "long.csv")
    # a second jump source, elsewhere, sent live later; a catalog row and a watched position on it
    sks("simulate", "--model", "jump=1", "--field", "30,-10,0.1", "--seed", 7, "--out",
        d / "late.csv", "--truth", d / "late.jsonl", "--quiet")
    late = json.loads((d / "late.jsonl").read_text().splitlines()[0])
    (d / "cat.csv").write_text(f"name,ra,dec,vmag\nlatecat,{late['ra']:.8f},{late['dec']:.8f},14.5\n")
    (d / "watch.csv").write_text(f"name,ra,dec,radius\nlatewatch,{late['ra']:.8f},"
                                 f"{late['dec']:.8f},4\n")
    sks("catalog", "load", "--store", d / "store", "--name", "webcat", "--radius", 4, d / "cat.csv")
    sks("watch", "add", "--store", d / "store", "--name", "webwatch", d / "watch.csv")
    pull = f"ipc://{d}/in.ipc"
    conf = d / "broker.ini"
    conf.write_text(
        "[broker]\nstore = store\nrun_dir = run\nradius = 5\n"
        "stats_interval = 0\n\n"
        f"[input pull]\naddress = {pull}\n\n[filters]\nset = set.ini\nworkers = 1\n\n"
        f"[output]\npublish = ipc://{d}/tags.ipc\n\n[control]\naddress = ipc://{d}/ctl.ipc\n")
    site = Site(d, "", truth=truth, conf=conf, pull=pull, late=d / "late.csv", late_truth=late,
                jump_oid=jumps[0])
    broker = start(d, "broker", "run", "--config", conf)
    site.procs.append(broker)
    try:
        deadline = time.monotonic() + 30
        while not (d / "in.ipc").exists() or not (d / "ctl.ipc").exists():
            assert broker.proc.poll() is None and time.monotonic() < deadline, (
                "skysieve run did not start:\n" + broker.log.read_text(errors="replace")[-3000:])
            time.sleep(0.05)
        srv, site.url = serve(d, "serve", "--config", conf)
        site.procs.insert(0, srv)
        site.jump_locus = site.locus_of(site.jump_oid)
        yield site
    finally:
        for p in site.procs:  # the server first, then the broker
            p.stop()


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """The shared ZTF and Rubin alerts ingested with the jump filter (which tags none of them)."""
    dirs = [SHARED / "ztf" / n for n in ("ztf-avro-alert-v3.2-v3.3", "kowalski-20200202-v3.3",
                                         "kowalski-20231012-v4.01", "fink-local-v3.3")]
    dirs.append(SHARED / "lsst" / "rubin-lsstcam-v9.0")
    missing = [str(p) for p in dirs if not p.is_dir()]
    if missing:
        pytest.skip(f"the shared real alerts are absent ({', '.join(missing)}; set "
                    "SKYSIEVE_SHARED_DATA): the pages over ZTF and Rubin alerts are not tested")
    d = tmp_path_factory.mktemp("real")
    (d / "set.ini").write_text(f"[filter jump_lua]\npath = {CONTRIB / 'jump' / 'jump.lua'}\n")
    sks("ingest", "--store", d / "store", "--filters", d / "set.ini", "--quiet", *dirs)
    srv, url = serve(d, "serve", "--store", d / "store")
    try:
        yield Site(d, url, procs=[srv])
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def browser():
    b = cdp.Browser()
    try:
        yield b
    finally:
        b.close()


class Tab:
    """A page of the browser that fails the test on any console error when closed."""

    def __init__(self, browser: cdp.Browser, width: int = 1280, height: int = 900,
                 scripts: bool = True):
        self.p = browser.page(width, height)
        if width <= PHONE:
            self.p.viewport(width, height, mobile=True)
        if not scripts:
            self.p.scripts(False)
        self.scripts = scripts

    def __enter__(self) -> "Tab":
        return self

    def __exit__(self, *exc) -> None:
        errors = list(self.p.errors)
        self.p.close()
        if exc[0] is None:
            assert not errors, f"console errors: {errors}"

    def open(self, url: str, shot: Optional[str] = None) -> "Tab":
        self.p.goto(url)
        self.p.images_loaded()
        if self.scripts:
            self.p.wait_for("document.readyState === 'complete'")
        if shot:
            self.shot(shot)
        return self

    def shot(self, name: str) -> None:
        self.p.screenshot(ARTIFACTS / f"{name}.png")

    def js(self, expr: str):
        return self.p.eval(expr)

    def texts(self, selector: str) -> List[str]:
        return self.js(f"Array.from(document.querySelectorAll({json.dumps(selector)}), "
                       "e => e.textContent.trim())")

    def rows(self, table: str = "#results") -> List[str]:
        return self.js(f"Array.from(document.querySelectorAll('{table} tbody tr'), "
                       "r => r.dataset.locus)")

    def centre(self, selector: str) -> tuple:
        r = self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); "
                    "e.scrollIntoView({block: 'center'}); const b = e.getBoundingClientRect(); "
                    "return [b.left + b.width / 2, b.top + b.height / 2]; })()")
        return r[0], r[1]


# ---- the simulated night ----

def test_search_by_object_id_leads_to_the_jump_sources_page(night, browser):
    with Tab(browser) as t:
        t.open(f"{night.url}/", "night-search-home")
        assert len(t.rows()) > 10, "the home page lists the newest loci"
        t.js(f"document.getElementById('q').value = {json.dumps(night.jump_oid)}; "
             "document.querySelector('form.search').requestSubmit()")
        t.p.wait_event("Page.loadEventFired")
        assert t.rows() == [night.jump_locus]
        t.shot("night-search-object-id")
        href = t.js("document.querySelector('#results tbody a').href")
        t.open(href)
        assert t.js("document.getElementById('locus-id').textContent") == night.jump_locus


def test_the_jump_sources_locus_page(night, browser):
    with Tab(browser) as t:
        t.open(f"{night.url}/loci/{night.jump_locus}")
        t.p.wait_for("document.getElementById('lc').dataset.ready === '1'")
        t.shot("night-locus")
        # both bands in the legend, and points of each on the plot
        assert t.js("Array.from(document.querySelectorAll('#lc-controls input[data-band]'), "
                    "i => i.dataset.band)") == ["g", "r"]
        for band in "gr":
            n = t.js(f"document.querySelectorAll('#lc svg .pt[data-band=\"{band}\"]').length")
            assert n >= 5, f"band {band}: {n} points"
        marks = t.js("Array.from(new Set(Array.from(document.querySelectorAll("
                     "'#lc svg .pt'), c => c.dataset.band + ' ' + c.tagName + ' ' "
                     "+ c.getAttribute('fill'))))")
        assert len(marks) == 2 and len({m.split()[1] for m in marks}) == 2 and \
            len({m.split()[2] for m in marks}) == 2, f"a colour and marker per band: {marks}"
        # the jump tag marked on the plot at the MJD it was set, after the jump
        mark = t.js("(() => { const l = document.querySelector('#lc svg .tagmarks "
                    "line[data-tag=jump]'); return l && parseFloat(l.getAttribute('x1')); })()")
        left = t.js(f"Array.from(document.querySelectorAll('#lc svg .pt')).filter(c => "
                    f"c.getBBox().x + c.getBBox().width / 2 < {mark or 0} - 0.5).length")
        lc = json.loads(get(f"{night.url}/api/v1/loci/{night.jump_locus}/lightcurve")[2])
        before = sum(it["mjd"] < night.truth[night.jump_oid]["params"]["first_bright_mjd"] - 1e-6
                     for it in lc["items"])
        assert mark and left == before > 0, f"the jump tag's mark at x={mark}: {left} points " \
                                            f"before it, {before} observed before the jump"
        # the jump tag, with the filter and the alert that set it
        tags = t.texts("#tags tbody tr")
        assert any(r.startswith("jump") and "jump_lua" in r and "candidate:" in r for r in tags), tags
        # the survey id and the position, decimal and sexagesimal
        assert night.jump_oid in t.js("document.querySelector('p.ids').textContent")
        lj = json.loads(get(f"{night.url}/api/v1/loci/{night.jump_locus}")[2])
        pos = t.js("document.getElementById('position').textContent")
        ra, dec = sexagesimal(lj["ra"], lj["dec"]).split()
        assert f"{lj['ra']:.7f}° {ra}" in pos and f"{lj['dec']:+.7f}° {dec}" in pos, pos
        # properties: who wrote each, and the filter box
        props = t.js("Object.fromEntries(Array.from(document.querySelectorAll("
                     "'#properties tbody tr'), r => [r.cells[0].textContent, r.cells[2]"
                     ".textContent]))")
        # the jump filter's own property names it: ingest --filters recorded its declarations
        assert props["num_alerts"] == "broker" and props["jump_magnitude"] == "filter jump_lua", \
            props
        assert t.js("document.querySelector('#properties span.writer').title") == "version 1.0.0"
        assert "only \u201cfilter\u201d" not in t.js(
            "document.querySelector('#properties p.note').textContent"), "every writer is known"
        t.js("const b = document.getElementById('prop-filter'); b.value = 'JUMP'; "
             "b.dispatchEvent(new Event('input'))")
        assert t.texts("#properties tbody tr:not([hidden]) td:first-child") == ["jump_magnitude"]
        assert t.js("document.getElementById('prop-count').textContent").strip() == (
            f"1 of {len(props)}")
        t.js("{ const b = document.getElementById('prop-filter'); b.value = 'jump_LUA'; "
             "b.dispatchEvent(new Event('input')); }")  # by writer: the name does not say it
        assert t.texts("#properties tbody tr:not([hidden]) td:first-child") == ["jump_magnitude"]
        assert t.js("document.getElementById('locus-json').getAttribute('href')") == (
            f"/api/v1/loci/{night.jump_locus}")
        assert t.js("document.querySelector('#position a.csv').href").endswith("format=csv")


def test_the_light_curve_answers_the_mouse(night, browser):
    with Tab(browser) as t:
        t.open(f"{night.url}/loci/{night.jump_locus}")
        t.p.wait_for("document.getElementById('lc').dataset.ready === '1'")
        n_all = t.js("document.querySelectorAll('#lc svg .pt').length")
        # hover: the point's MJD, band, magnitude and alert
        x, y = t.centre("#lc svg .pt[data-band='r']")
        t.p.mouse("mouseMoved", x, y)
        tip = t.p.wait_for("(() => { const e = document.querySelector('#lc .tip'); "
                           "return e && !e.hidden && e.textContent; })()")
        assert re.search(r"MJD 600\d\d\.\d{5} · band r · detection", tip), tip
        assert re.search(r"mag \d+\.\d{3} ± \d\.\d{3}", tip) and "alert ztf_candidate:" in tip, tip
        t.shot("night-locus-hover")
        # a click selects the point's alert (its stamps; the row of the list)
        alert = re.search(r"alert (\S+)", tip).group(1)
        t.p.mouse("mousePressed", x, y, "left")
        t.p.mouse("mouseReleased", x, y, "left")
        t.p.wait_for(f"document.querySelector('#alerts tr.sel') && "
                     f"document.querySelector('#alerts tr.sel').dataset.alert === {json.dumps(alert)}")
        assert alert in t.js("document.getElementById('sel-alert').textContent")
        assert alert in urllib.parse.unquote(t.js("location.search")), "the URL keeps the choice"
        # a drag across the first third zooms in on that time range; All resets
        box = t.js("(() => { const b = document.querySelector('#lc svg.plot').getBoundingClientRect(); "
                   "return [b.left, b.top, b.width, b.height]; })()")
        y0 = box[1] + box[3] * 0.5
        t.p.mouse("mousePressed", box[0] + box[2] * 0.1, y0, "left")
        for f in (0.2, 0.3, 0.4):
            t.p.mouse("mouseMoved", box[0] + box[2] * f, y0, "left")
        t.p.mouse("mouseReleased", box[0] + box[2] * 0.4, y0, "left")
        n_zoom = t.js("document.querySelectorAll('#lc svg .pt').length")
        assert 0 < n_zoom < n_all, f"{n_zoom} of {n_all} points after the zoom"
        t.shot("night-locus-zoomed")
        t.js("document.querySelector('#lc-controls [data-zoom=all]').click()")
        assert t.js("document.querySelectorAll('#lc svg .pt').length") == n_all
        # a band off, then flux
        t.js("document.querySelector('#lc-controls input[data-band=g]').click()")
        assert t.js("document.querySelectorAll('#lc svg .pt[data-band=g]').length") == 0
        assert t.js("document.querySelectorAll('#lc svg .pt[data-band=r]').length") > 0
        t.js("document.querySelector('#lc-controls [data-y=flux]').click()")
        assert "flux (nJy)" in t.js("document.querySelector('#lc svg .axis').textContent")


def test_the_jump_sources_stamps(night, browser):
    with Tab(browser) as t:
        t.open(f"{night.url}/loci/{night.jump_locus}")
        # `skysieve simulate` writes ZTF-like gzip FITS stamps into its Avro alerts
        assert not t.js("!!document.getElementById('no-stamps')"), "no stamps in the night"
        imgs = t.js("Array.from(document.querySelectorAll('#cutouts img.stamp'), i => "
                    "({kind: i.dataset.kind, w: i.naturalWidth, h: i.naturalHeight, "
                    "bytes: (performance.getEntriesByName(i.currentSrc)[0] || {}).encodedBodySize"
                    " || 0}))")
        assert [i["kind"] for i in imgs] == ["science", "template", "difference"], imgs
        assert all(i["w"] > 0 and i["h"] > 0 and i["bytes"] > 0 for i in imgs), imgs
        t.shot("night-locus-stamps")


def test_the_locus_as_the_filter_saw_it(night, browser):
    with Tab(browser) as t:
        t.open(f"{night.url}/loci/{night.jump_locus}")
        t.js("document.querySelector('#tags a.asof').click()")
        t.p.wait_event("Page.loadEventFired")
        t.p.wait_for("document.getElementById('lc').dataset.ready === '1'")
        t.shot("night-locus-as-of")
        assert "As the filters saw it when alert" in t.js("document.getElementById('as-of')"
                                                          ".textContent")
        rows = t.js("document.querySelectorAll('#alerts tbody tr').length")
        assert 0 < rows < 40, f"{rows} measurements then"
        assert t.js("document.querySelectorAll('#lc svg .pt').length") == rows, \
            "the plot shows the measurements the filter saw"


def test_a_long_list_of_measurements_is_cut_and_can_be_shown_whole(night, browser):
    st, _, body = get(f"{night.url}/api/v1/loci?ra=200&dec=20&radius=10")
    long_ = json.loads(body)["items"][0]
    assert long_["num_alerts"] == 120, long_
    with Tab(browser) as t:
        t.open(f"{night.url}/loci/{long_['locus_id']}")
        t.p.wait_for("document.getElementById('lc').dataset.ready === '1'")
        n = t.js("document.querySelectorAll('#alerts tbody tr').length")
        assert n == 100, f"{n} rows at first"
        assert t.js("document.querySelectorAll('#lc svg .pt').length") == 120, "the plot has all"
        assert "The newest 100 of 120" in t.js("document.getElementById('more-alerts')"
                                               ".textContent")
        t.js("document.querySelector('#more-alerts a').click()")
        t.p.wait_event("Page.loadEventFired")
        assert t.js("document.querySelectorAll('#alerts tbody tr').length") == 120
        assert not t.js("!!document.getElementById('more-alerts')")
    with Tab(browser) as t:  # every stamped alert's stamps are known to the page, listed or not
        t.open(f"{night.url}/loci/{night.jump_locus}")
        stamped = json.loads(t.js("document.getElementById('cutouts').dataset.stamped"))
        rows = t.js("Array.from(document.querySelectorAll('#alerts tbody tr'), "
                    "r => [r.dataset.alert, Number(r.dataset.stamps)])")
        assert stamped == {a: b for a, b in rows if b}, stamped


def test_search_by_sexagesimal_cone_and_by_tag(night, browser):
    tr = night.truth[night.jump_oid]
    with Tab(browser) as t:
        q = urllib.parse.urlencode({"q": sexagesimal(tr["ra"], tr["dec"]), "radius": 5})
        t.open(f"{night.url}/search?{q}", "night-search-cone")
        assert t.rows()[0] == night.jump_locus
        assert "Within 5″" in t.js("document.getElementById('summary').textContent")
        q = urllib.parse.urlencode({"q": f"{tr['ra']:.6f} {tr['dec']:.6f}", "radius": 5})
        t.open(f"{night.url}/search?{q}")
        assert t.rows()[0] == night.jump_locus
        t.open(f"{night.url}/search?tag=jump", "night-search-tag")
        assert night.jump_locus in t.rows()
        assert t.js("document.querySelector('select[name=tag]').value") == "jump"


def test_sorting_and_paging(night, browser):
    col = "(() => { const h = Array.from(document.querySelectorAll('#results th'), " \
          "e => e.textContent.trim()); const k = h.findIndex(s => s.startsWith('Newest mag')); " \
          "return Array.from(document.querySelectorAll('#results tbody tr'), " \
          "r => parseFloat(r.cells[k].textContent)); })()"
    with Tab(browser) as t:
        t.open(f"{night.url}/search?page_size=20")
        before = t.js(col)
        link = "Array.from(document.querySelectorAll('#results th a')).find(a => " \
               "a.textContent.startsWith('Newest mag'))"
        t.js(f"{link}.click()")
        t.p.wait_event("Page.loadEventFired")
        up = t.js(col)
        assert up == sorted(up) and up != before, up
        t.shot("night-search-sorted")
        t.js(f"{link}.click()")
        t.p.wait_event("Page.loadEventFired")
        down = t.js(col)
        assert down == sorted(down, reverse=True) and down[0] >= up[-1], down
        first = t.rows()
        t.js("document.querySelector('.pager a[rel=next]').click()")
        t.p.wait_event("Page.loadEventFired")
        second = t.rows()
        assert len(second) == 20 and not set(first) & set(second)
        assert t.js(col)[0] <= down[-1], "page 2 goes on in the same order"


def test_pages_work_with_javascript_off(night, browser):
    with Tab(browser, scripts=False) as t:
        t.open(f"{night.url}/search?q={night.jump_oid}", "night-nojs-search")
        assert t.rows() == [night.jump_locus]
        t.open(f"{night.url}/loci/{night.jump_locus}", "night-nojs-locus")
        img = t.js("(() => { const i = document.getElementById('lc-img'); "
                   "return [i.naturalWidth, i.getBoundingClientRect().height]; })()")
        assert img[0] > 0 and img[1] > 100, f"the server's SVG light curve: {img}"
        assert not t.js("!!document.getElementById('lc-controls')")
        assert any(r.startswith("jump") for r in t.texts("#tags tbody tr"))
        assert len(t.texts("#alerts tbody tr")) == 40
        # choosing an alert is a link
        href = t.js("document.querySelector('#tags tbody td.id a').href")
        t.open(href)
        chosen = urllib.parse.parse_qs(urllib.parse.urlparse(href).query)["alert"][0]
        assert t.js("document.querySelector('#alerts tr.sel').dataset.alert") == chosen
        t.open(f"{night.url}/tags", "night-nojs-tags")
        assert night.jump_locus in t.rows("section[data-tag=jump] table")


def test_every_page_fits_a_phone(night, browser):
    pages = {"search": "/", "locus": f"/loci/{night.jump_locus}", "tags": "/tags",
             "tag": "/tags/jump", "broker": "/broker", "cone": "/search?q=10:04:18+%2B02:02:10"}
    with Tab(browser, PHONE, 800) as t:
        for name, path in pages.items():
            t.open(night.url + path)
            if name == "locus":
                t.p.wait_for("document.getElementById('lc').dataset.ready === '1'")
            t.shot(f"night-phone-{name}")
            w = t.js("[document.documentElement.scrollWidth, document.body.scrollWidth, "
                     "window.innerWidth]")
            assert max(w[0], w[1]) <= w[2], f"{path} scrolls sideways at {PHONE} px: {w}"


def test_pages_send_a_strict_content_security_policy(night):
    for path in ("/", f"/loci/{night.jump_locus}", "/tags", "/broker", "/nowhere/at/all"):
        status, headers, body = get(night.url + path)
        csp = headers.get("Content-Security-Policy", "")
        if path.startswith("/nowhere"):
            assert status == 404
            continue
        assert status == 200 and "script-src 'self'" in csp and "'unsafe-inline'" not in csp, csp
        assert headers.get("X-Content-Type-Options") == "nosniff"
        assert not re.search(rb"<script(?![^>]*\bsrc=)", body), f"{path}: an inline script"
        assert not re.search(rb"\son[a-z]+=", body), f"{path}: an inline handler"


def test_bad_requests_get_a_page_that_says_why(night):
    """Hostile or mistyped input: a status and an explanation naming it; never a crash."""
    cases = [
        ("/search?q=12:00:00+%2B02:00:00&radius=-1", 400, "not &#39;-1&#39;"),
        ("/search?q=1+2&radius=abc", 400, "not &#39;abc&#39;"),
        ("/search?q=%FF%FE%00x", 200, "No locus matches"),
        ("/search?q=" + "x" * 5000, 200, "No locus matches"),
        ("/search?q=tag:&page=0&page_size=-3&sort=&order=", 200, "Every locus"),
        ("/search?q=361+0", 200, "No locus matches"),
        ("/loci/nosuchlocus", 404, "nosuchlocus"),
        (f"/loci/{night.jump_locus}?as_of=nosuchalert", 404, "nosuchalert"),
        (f"/loci/{night.jump_locus}?alert=%3Cscript%3E&flux=2", 200, "Measurements"),
        ("/tags/%3Cb%3Enone?page=99999999999", 200, "&lt;b&gt;none"),
        ("/static/nothing.js", 404, "nothing.js"),
    ]
    for path, status, text in cases:
        st, _, body = get(night.url + path)
        assert st == status, f"{path}: {st}"
        assert text.encode() in body, f"{path}: no {text!r} in {body[:2000]!r}"
        assert b"<script>" not in body and b"<b>none" not in body
    assert get(night.url + "/api/v1")[0] == 200, "the server still answers"


def test_the_tags_page_is_live(night, browser):
    with Tab(browser) as t:
        t.open(f"{night.url}/tags")
        t.p.wait_for("document.getElementById('live').dataset.connected === '1'")
        table = "section[data-tag=jump] table"
        assert t.rows(table) == [night.jump_locus]
        sks("send", night.pull, night.late)
        t.p.wait_for(f"document.querySelectorAll('{table} tbody tr').length === 2", 30)
        late = night.locus_of(night.late_truth["object_id"], night.late_truth)
        assert t.rows(table) == [late, night.jump_locus], "the new tag at the top"
        assert "Live:" in t.js("document.getElementById('live').textContent")
        t.shot("night-tags-live")
    # the late source's page: its catalog match and watch-list hit
    with Tab(browser) as t:
        t.open(f"{night.url}/loci/{late}", "night-locus-matches")
        matches = t.js("document.getElementById('matches').textContent")
        assert "webcat" in matches and "latecat" in matches, matches
        assert "webwatch" in matches and "latewatch" in matches, matches


def test_the_broker_page(night, browser):
    with Tab(browser) as t:
        t.open(f"{night.url}/broker")
        t.p.wait_for("Number(document.getElementById('broker-page').dataset.refreshed) >= 1")
        rows = t.texts("#filters tbody tr")
        assert len(rows) == 1 and rows[0].startswith("jump_lua") and "running" in rows[0], (
            rows, t.js("document.getElementById('running').outerHTML"))
        assert t.js("document.getElementById('disabled').textContent") == "No filter is disabled."
        t.shot("night-broker")
        sks("ctl", "--config", night.conf, "disable", "jump_lua")
        try:
            t.p.wait_for("document.getElementById('disabled').textContent.includes('jump_lua')",
                         20)
            assert "disabled by the operator" in t.texts("#filters tbody tr")[0]
            t.shot("night-broker-disabled")
        finally:
            sks("ctl", "--config", night.conf, "enable", "jump_lua")


def test_pages_without_a_broker_and_behind_a_token(night, browser):
    token = "pages-test-token-5c1e9a"
    (night.dir / "token").write_text(token + "\n")
    os.chmod(night.dir / "token", 0o600)
    srv, url = serve(night.dir, "serve-store-only", "--store", night.dir / "store",
                     "--token-file", night.dir / "token")
    tok = f"access_token={token}"
    try:
        assert get(f"{url}/")[0] == 401, "no page without the token"
        with Tab(browser) as t:
            t.open(f"{url}/broker?{tok}", "night-broker-none")
            assert "No broker is attached" in t.js("document.getElementById('no-broker')"
                                                   ".textContent")
            t.p.wait_for("Number(document.getElementById('broker-page').dataset.refreshed) >= 1")
            assert t.js("document.querySelector('[data-stat=loci]').textContent") != "—"
            t.open(f"{url}/tags?{tok}")
            assert t.js("!!document.getElementById('live-off')")
            # the token travels on the links, the stamps and the plot's requests
            t.open(f"{url}/loci/{night.jump_locus}?{tok}")
            t.p.wait_for("document.getElementById('lc').dataset.ready === '1'")
            hrefs = t.js("Array.from(document.querySelectorAll('main a[href^=\"/\"]'), "
                         "a => a.getAttribute('href'))")
            assert hrefs and all(tok in h for h in hrefs), [h for h in hrefs if tok not in h]
            assert t.js("Array.from(document.querySelectorAll('#cutouts img.stamp'))"
                        ".every(i => i.naturalWidth > 0)")
    finally:
        srv.stop()


# ---- the shared ZTF and Rubin alerts ----

def _real_loci(site: Site) -> List[dict]:
    out = sks("loci", "--store", site.dir / "store")
    return [json.loads(line) for line in out.splitlines()]


def test_real_ztf_and_rubin_locus_pages(real, browser):
    loci = _real_loci(real)
    ztf = max((l for l in loci if "ztf_object_id" in l), key=lambda l: l["num_alerts"])
    rubin = next(l for l in loci if "lsst_object_id" in l)
    for name, l in (("ztf", ztf), ("rubin", rubin)):
        full = json.loads(get(f"{real.url}/api/v1/loci/{l['locus_id']}")[2])
        kinds = sorted({a["kind"] for a in full["alerts"]})
        with Tab(browser) as t:
            t.open(f"{real.url}/loci/{l['locus_id']}")
            t.p.wait_for("document.getElementById('lc').dataset.ready === '1'")
            t.shot(f"real-locus-{name}")
            assert sorted(t.js("Array.from(document.querySelectorAll("
                               "'#lc-controls input[data-kind]'), i => i.dataset.kind)")) == kinds
            imgs = t.js("Array.from(document.querySelectorAll('#cutouts img.stamp'), "
                        "i => [i.dataset.kind, i.naturalWidth])")
            assert [k for k, _ in imgs] == ["science", "template", "difference"], imgs
            assert all(w > 0 for _, w in imgs), imgs
            oid = l.get("ztf_object_id") or l.get("lsst_object_id")
            assert oid in t.js("document.querySelector('p.ids').textContent")
        with Tab(browser) as t:
            t.open(f"{real.url}/search?q={oid}")
            assert t.rows() == [l["locus_id"]]


def test_real_pages_without_tags_and_on_a_phone(real, browser):
    with Tab(browser) as t:
        t.open(f"{real.url}/tags", "real-tags")
        assert t.js("!!document.getElementById('no-tags')")
        t.open(f"{real.url}/broker", "real-broker")
        assert t.js("!!document.getElementById('no-broker')")
    loci = _real_loci(real)
    rubin = next(l for l in loci if "lsst_object_id" in l)
    with Tab(browser, PHONE, 800) as t:
        for name, path in (("search", "/"), ("rubin", f"/loci/{rubin['locus_id']}")):
            t.open(real.url + path, f"real-phone-{name}")
            w = t.js("[document.documentElement.scrollWidth, window.innerWidth]")
            assert w[0] <= w[1], f"{path} scrolls sideways: {w}"
