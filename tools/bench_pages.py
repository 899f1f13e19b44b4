#!/usr/bin/python3
"""bench_pages: the locus page's first contentful paint in headless Chromium (README "Figures").

A Release `skysieve serve` over a store of about a million loci (built once under --dir and reused:
a million constant sources, one epoch of two visits in g, and one source of 500 points), the page
of random loci loaded one after the other in one tab of headless Chromium (tests/browser/cdp.py),
each load's first contentful paint read from the Performance timeline ('first-contentful-paint'),
with the time to the interactive light curve (the page's 'skysieve-lc-ready' mark) and to the
HTML's first byte. The reference is the site's frame without data (the 404 page of a locus that
does not exist: the same stylesheet, header and footer), loaded between the locus pages in the
same run; figures are min/median/max over the repeats of each repeat's median, and the ratio of
the locus page's FCP to the reference's. Stylesheet and scripts are cached as a returning visitor
has them (their URLs are versioned and immutable), unless --cold.

usage: tools/bench_pages.py [--build DIR] [--dir DIR] [--loads N] [--repeat N] [--cold]
                            [--perf FILE] [--sources N]
  --build DIR   a Release build (default build-rel)
  --dir DIR     where the store is built and kept (default /tmp/skysieve-bench-pages)
  --loads N     locus pages per repeat (default 20), random loci (and the 500-point one)
  --perf FILE   record the server with `perf record --call-graph dwarf` during the loads and
                print the top of `perf report` (linux-perf)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "browser"))

import cdp  # noqa: E402


def say(*a) -> None:
    print("bench_pages:", *a, file=sys.stderr, flush=True)


def build_store(sks: Path, d: Path, sources: int) -> Path:
    """The store of --dir, built once: `sources` one-epoch loci and one of 500 points."""
    store = d / "store"
    if (d / "READY").exists():
        return store
    d.mkdir(parents=True, exist_ok=True)
    say(f"building the store ({sources} sources; a few minutes, once)")
    run = lambda *a: subprocess.run([str(sks), *map(str, a)], check=True)  # noqa: E731
    run("simulate", "--model", f"constant={sources}", "--epochs", 1, "--bands", "g",
        "--field", "150,2,20", "--scatter", 0.2, "--seed", 11, "--quiet", "--out", d / "big.csv")
    run("simulate", "--model", "constant=1", "--epochs", 125, "--scatter", 0.05, "--field",
        "20,-30,0.001", "--seed", 9, "--quiet", "--out", d / "long0.csv")
    with open(d / "long0.csv") as src, open(d / "long.csv", "w") as out:
        out.write(src.readline())
        for line in src:  # alert ids of its own: both simulations number theirs from 1
            out.write("long" + line)
    run("ingest", "--store", store, "--radius", 1, "--quiet", d / "big.csv", d / "long.csv")
    (d / "READY").write_text("")
    return store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.loads(r.read())


def pick_loci(url: str, sources: int, n: int, rng: random.Random) -> list:
    """n random loci of the constant sources (by object id), and the 500-point locus."""
    out = []
    while len(out) < n - 1:
        oid = f"SIM{rng.randint(2, sources):08d}"
        items = api(f"{url}/api/v1/loci?object_id={oid}")["items"]
        if len(items) == 1:  # a source scattered into two loci is left out
            out.append(items[0]["locus_id"])
    long_ = api(f"{url}/api/v1/loci?ra=20&dec=-30&radius=10")["items"]
    best = max(long_, key=lambda l: l["num_alerts"])
    say(f"the long locus {best['locus_id']}: {best['num_alerts']} points")
    return out + [best["locus_id"]]


TIMES = """(() => {
  const p = performance.getEntriesByName('first-contentful-paint')[0];
  const n = performance.getEntriesByType('navigation')[0];
  const m = performance.getEntriesByName('skysieve-lc-ready')[0];
  return [p ? p.startTime : null, n ? n.responseStart - n.requestStart : null,
          m ? m.startTime : null];
})()"""


def load(page: cdp.Page, url: str, want_lc: bool) -> list:
    page.goto(url)
    if want_lc:
        page.wait_for("document.getElementById('lc') && document.getElementById('lc')"
                      ".dataset.ready === '1'", 30, every=0.01)
    page.wait_for("performance.getEntriesByName('first-contentful-paint').length > 0", 10,
                  every=0.01)
    return page.eval(TIMES)


def med(v: list):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None


def mmm(v: list) -> str:
    v = [x for x in v if x is not None]
    if not v:
        return "-"
    return f"{min(v):.1f} / {statistics.median(v):.1f} / {max(v):.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=str(ROOT / "build-rel"))
    ap.add_argument("--dir", default="/tmp/skysieve-bench-pages")
    ap.add_argument("--loads", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sources", type=int, default=1000000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cold", action="store_true", help="no browser cache")
    ap.add_argument("--perf", help="perf record the server into this file")
    a = ap.parse_args()
    sks = Path(a.build) / "skysieve"
    if not os.access(sks, os.X_OK):
        say(f"no {sks} (build it: cmake --build {a.build})")
        return 1
    if not os.access(cdp.CHROMIUM, os.X_OK):
        say(f"no Chromium at {cdp.CHROMIUM} (Debian's chromium; or set SKYSIEVE_CHROMIUM)")
        return 1
    d = Path(a.dir)
    store = build_store(sks, d, a.sources)
    port = free_port()
    log = open(d / "serve.log", "w")
    srv = subprocess.Popen([str(sks), "serve", "--store", str(store), "--listen",
                            f"127.0.0.1:{port}"], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    perf = None
    browser = None
    try:
        for _ in range(300):
            try:
                stats = api(url + "/api/v1/stats")
                break
            except OSError:
                time.sleep(0.1)
        else:
            say("the server did not answer")
            return 1
        say(f"store {store}: {stats['loci']} loci, {stats['alerts']} alerts")
        rng = random.Random(a.seed)
        browser = cdp.Browser()
        page = browser.page(1280, 900)
        if a.cold:
            page.call("Network.setCacheDisabled", cacheDisabled=True)
        ref_url = f"{url}/loci/SKS0000nosuchlocus"
        loci = pick_loci(url, a.sources, a.loads, rng)
        long_id = loci[-1]
        load(page, ref_url, False)  # warm: the browser's first page, the assets in cache
        load(page, f"{url}/loci/{loci[0]}", True)
        if a.perf:
            perf = subprocess.Popen(["perf", "record", "--call-graph", "dwarf", "-F", "1000",
                                     "-o", a.perf, "-p", str(srv.pid)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        per = {"fcp": [], "ref": [], "ratio": [], "ttfb": [], "lc": [], "long_fcp": [],
               "long_lc": []}
        every = {"fcp": [], "ref": []}
        for r in range(a.repeat):
            rng.shuffle(loci)
            fcp, ref, ttfb, lc = [], [], [], []
            for lid in loci:
                rf = load(page, ref_url, False)
                lo = load(page, f"{url}/loci/{urllib.parse.quote(lid)}", True)
                ref.append(rf[0])
                if lid == long_id:
                    per["long_fcp"].append(lo[0])
                    per["long_lc"].append(lo[2])
                    continue
                fcp.append(lo[0])
                ttfb.append(lo[1])
                lc.append(lo[2])
            every["fcp"] += fcp
            every["ref"] += ref
            per["fcp"].append(statistics.median(fcp))
            per["ref"].append(statistics.median(ref))
            per["ratio"].append(statistics.median(fcp) / statistics.median(ref))
            per["ttfb"].append(med(ttfb))
            per["lc"].append(med(lc))
            say(f"repeat {r + 1}: FCP median {per['fcp'][-1]:.1f} ms, reference "
                f"{per['ref'][-1]:.1f} ms")
        print(f"locus page, {stats['loci']} loci, {len(loci) - 1} random loci x {a.repeat} "
              f"repeats ({'cold' if a.cold else 'warm'} cache); min / median / max of the "
              "repeats' medians, ms:")
        print(f"  first contentful paint        {mmm(per['fcp'])}")
        print(f"  reference (the site's frame)  {mmm(per['ref'])}")
        print(f"  ratio FCP / reference         "
              f"{min(per['ratio']):.2f} / {statistics.median(per['ratio']):.2f} / "
              f"{max(per['ratio']):.2f}")
        print(f"  HTML first byte (TTFB)        {mmm(per['ttfb'])}")
        print(f"  interactive light curve drawn {mmm(per['lc'])}")
        print(f"  every single load's FCP       {mmm(every['fcp'])}")
        print(f"  the 500-point locus: FCP {mmm(per['long_fcp'])}, light curve drawn "
              f"{mmm(per['long_lc'])}")
        page.close()
    finally:
        if perf and perf.poll() is None:
            perf.send_signal(signal.SIGINT)
            perf.wait()
        if browser:
            browser.close()
        srv.send_signal(signal.SIGTERM)
        srv.wait()
        log.close()
    if a.perf:
        for title, mode in (("self", "--no-children"), ("with callees", "--children")):
            rep = subprocess.run(["perf", "report", "-i", a.perf, "--stdio", mode,
                                  "--percent-limit", "3", "-g", "none", "--sort", "symbol"],
                                 capture_output=True, text=True)
            print(f"\nperf report (the server, {title}, >= 3 %):")
            print("\n".join(l.rstrip(" -") for l in rep.stdout.splitlines()
                            if l.strip() and not l.startswith("#"))[:4000])
    # the server's own time per page, from its log
    us = []
    for line in (d / "serve.log").read_text().splitlines():
        if "GET /loci/{id} 200" in line:
            us.append(int(line.split()[-2]))
    if us:
        us.sort()
        print(f"\nserver time per locus page (its log): median {us[len(us) // 2] / 1000:.2f} ms, "
              f"p90 {us[int(len(us) * 0.9)] / 1000:.2f} ms, max {us[-1] / 1000:.2f} ms "
              f"({len(us)} pages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
