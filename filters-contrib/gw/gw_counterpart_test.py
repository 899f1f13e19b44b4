"""gw_counterpart (filters-contrib/gw) on a simulated night around a gravitational-wave event:
transients inside and outside the event's 90% region, before and after the merger, rising,
fading and new, ingested with the filter; exactly the right ones are tagged, with the event's
values, and a retracted event (gw remove) associates nothing more. The map is a flat HEALPix map
written here with healpy, so the test needs no shared data; which positions are inside the 90%
region is computed here too, independently of skysieve.
"""
import json
import math
import os
import subprocess

import numpy as np
import pytest

hp = pytest.importorskip("healpy")

SKYSIEVE = os.environ.get("SKYSIEVE_BINARY", "skysieve")
FILTER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gw_counterpart.lua")
MERGER = 60000.5
NSIDE = 64


def sks(*args):
    r = subprocess.run([SKYSIEVE, *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout


def write_map(path):
    npix = hp.nside2npix(NSIDE)
    vec = hp.pix2vec(NSIDE, np.arange(npix), nest=True)
    centre = hp.ang2vec(math.radians(90 - 30), math.radians(150))
    prob = np.exp(np.dot(centre, vec) / 0.003)
    prob /= prob.sum()
    hp.write_map(path, [prob, np.full(npix, 40.0), np.full(npix, 8.0), np.full(npix, 1e-3)],
                 nest=True, overwrite=True, dtype=np.float64,
                 column_names=["PROB", "DISTMU", "DISTSIGMA", "DISTNORM"],
                 extra_header=[("OBJECT", "S240101a"), ("MJD-OBS", MERGER)])
    order = np.argsort(-prob)
    level = np.empty(npix)
    level[order] = np.cumsum(prob[order])
    return level


def inside(level, ra, dec):
    return level[hp.ang2pix(NSIDE, math.radians(90 - dec), math.radians(ra), nest=True)] <= 0.9


# name: (ra, dec, [(mjd, mag), ...])
SOURCES = {
    "rising_inside": (150.0, 30.0, [(60001.0, 19.0), (60002.0, 18.0)]),
    "new_inside_bright": (151.0, 30.5, [(60003.0, 12.0)]),
    "seen_before_merger": (149.5, 29.5, [(59990.0, 18.5), (60001.0, 18.0)]),
    "just_before_merger": (150.5, 29.0, [(60000.0, 18.0)]),
    "outside_region": (160.0, 50.0, [(60001.0, 18.0)]),
    "after_window": (149.0, 31.0, [(60020.0, 18.0)]),
    "fading_inside": (150.8, 30.8, [(60001.0, 18.0), (60002.0, 19.0)]),
}
# A filter sees each locus as of each alert: fading_inside was new at its first detection, so it
# is tagged then (and keeps the tag when it fades), as a broker fed alert by alert would.
TAGGED = {"rising_inside", "new_inside_bright", "fading_inside"}


def alerts_csv(path, sources):
    with open(path, "w") as f:
        f.write("alert_id,object_id,ra,dec,mjd,passband,mag,magerr\n")
        rows = [(mjd, name, ra, dec, mag) for name, (ra, dec, pts) in sources.items()
                for mjd, mag in pts]
        for k, (mjd, name, ra, dec, mag) in enumerate(sorted(rows)):
            f.write(f"{name}-{k},{name},{ra},{dec},{mjd},r,{mag},0.05\n")


def test_the_right_transients_are_tagged_and_a_retraction_ends_it(tmp_path):
    level = write_map(str(tmp_path / "map.fits"))
    for name, (ra, dec, _) in SOURCES.items():  # the scenario itself, computed independently
        assert inside(level, ra, dec) == (name != "outside_region"), name
    store = str(tmp_path / "s")
    sks("gw", "load", "--store", store, str(tmp_path / "map.fits"))
    ini = tmp_path / "set.ini"
    ini.write_text(f"[filter gw_counterpart]\npath = {FILTER}\n")
    alerts_csv(str(tmp_path / "night.csv"), SOURCES)
    sks("ingest", "--store", store, "--filters", str(ini), str(tmp_path / "night.csv"))
    tagged = [json.loads(line) for line in sks("tagged", "--store", store,
                                               "gw_counterpart").splitlines()]
    ids = {t["locus_id"] for t in tagged}
    got = set()
    for lid in ids:
        locus = json.loads(sks("locus", "--store", store, lid))
        got.add(locus["alerts"][0]["object_id"])
        p = locus["properties"]
        tags = {t["tag"] for t in locus["tags"]}
        assert p["gw_event"] == "S240101a" and p["gw_credible_level"] <= 0.9
        assert p["gw_distance_mpc"] == pytest.approx(40 + 8 ** 2 * 2 / 40, rel=0.05)
        name = locus["alerts"][0]["object_id"]
        peak = min(mag for _, mag in SOURCES[name][2])
        if name == "rising_inside":
            assert p["gw_days_since_merger"] == pytest.approx(60002.0 - MERGER)
            shown = locus["gw_events"]  # what `skysieve locus` and the API show
            assert [e["id"] for e in shown] == ["S240101a"]
            assert shown[0]["credible_level"] == pytest.approx(p["gw_credible_level"])
            assert shown[0]["merger_mjd"] == MERGER
            rising = lid
        if name == "fading_inside":  # tagged at its first alert only
            assert [t["alert_id"] for t in locus["tags"] if t["tag"] == "gw_counterpart"] == \
                ["fading_inside-2"]
        assert p["gw_abs_mag"] == pytest.approx(peak - 5 * math.log10(p["gw_distance_mpc"] * 1e5))
        # -15.2 for the 18th-magnitude ones; -21.2 for the bright one, far too bright
        assert ("gw_kilonova_like" in tags) == (-17.5 <= p["gw_abs_mag"] <= -12), name
    assert got == TAGGED, got
    # the loci already in the region (a map arriving after the night finds them): every source
    # inside it with a detection since a day before the merger, densest first
    found = [json.loads(line) for line in sks("gw", "loci", "--store", store, "S240101a").splitlines()]
    want = {n for n, (ra, dec, pts) in SOURCES.items()
            if inside(level, ra, dec) and max(t for t, _ in pts) >= MERGER - 1}
    names = [json.loads(sks("locus", "--store", store, f["locus_id"]))["alerts"][0]["object_id"]
             for f in found]
    assert set(names) == want and len(names) == len(want), names
    dens = [f["probdensity"] for f in found]
    assert dens == sorted(dens, reverse=True) and all(f["credible_level"] <= 0.9 for f in found)
    later = sks("gw", "loci", "--store", store, "--since", 60010, "S240101a").splitlines()
    assert [json.loads(x)["locus_id"] for x in later] == \
        [f["locus_id"] for f, n in zip(found, names) if n == "after_window"]
    # a retraction: the event is removed, and a new source inside it is no longer associated
    sks("gw", "remove", "--store", store, "S240101a")
    alerts_csv(str(tmp_path / "later.csv"), {"after_retraction": (150.2, 30.1, [(60004.0, 18.0)])})
    sks("ingest", "--store", store, "--filters", str(ini), str(tmp_path / "later.csv"))
    later = [json.loads(line) for line in sks("tagged", "--store", store,
                                              "gw_counterpart").splitlines()]
    assert len(later) == len(tagged)
    assert json.loads(sks("locus", "--store", store, rising))["gw_events"] == []


def moc_notice(tmp_path, alert_type, with_map=True):
    """An IGWN notice (the igwn.gwalert JSON) whose map is the flat map made multi-order, with
    the merger in event.time only (the map header has no MJD-OBS)."""
    import base64
    import io
    from astropy.table import Table

    level = write_map(str(tmp_path / "flat.fits"))
    flat = hp.read_map(str(tmp_path / "flat.fits"), field=None, nest=True, dtype=np.float64)
    order = int(math.log2(NSIDE))
    npix = hp.nside2npix(NSIDE)
    t = Table({"UNIQ": 4 * 4 ** order + np.arange(npix, dtype=np.int64),
               "PROBDENSITY": flat[0] / hp.nside2pixarea(NSIDE),
               "DISTMU": flat[1], "DISTSIGMA": flat[2], "DISTNORM": flat[3]})
    t.meta.update({"ORDERING": "NUNIQ", "PIXTYPE": "HEALPIX", "OBJECT": "S240101a",
                   "MOCORDER": order})
    buf = io.BytesIO()
    t.write(buf, format="fits")
    event = None
    if with_map:
        event = {"time": "2023-02-25T12:00:00.000Z",  # MJD 60000.5
                 "far": 1e-10, "significant": True, "instruments": ["H1", "L1"],
                 "group": "CBC", "pipeline": "gstlal", "search": "AllSky",
                 "classification": {"BNS": 0.95, "Terrestrial": 0.05},
                 "skymap": base64.b64encode(buf.getvalue()).decode()}
    notice = {"alert_type": alert_type, "time_created": "2023-02-25T12:01:00Z",
              "superevent_id": "S240101a", "urls": {}, "event": event, "external_coinc": None}
    path = tmp_path / f"{alert_type.lower()}.json"
    path.write_text(json.dumps(notice))
    return str(path), level


def test_a_map_arriving_after_the_night_reaches_the_loci_through_the_broker(tmp_path):
    store = str(tmp_path / "store")
    ini = tmp_path / "set.ini"
    ini.write_text(f"[filter gw_counterpart]\npath = {FILTER}\n")
    alerts_csv(str(tmp_path / "night.csv"), SOURCES)
    sks("ingest", "--store", store, "--filters", str(ini), str(tmp_path / "night.csv"))
    assert sks("tagged", "--store", store, "gw_counterpart") == ""  # no map yet
    notice, level = moc_notice(tmp_path, "PRELIMINARY")
    out = sks("gw", "notice", "--store", store, notice)
    want = {n for n, (ra, dec, pts) in SOURCES.items()
            if inside(level, ra, dec) and max(t for t, _ in pts) >= MERGER - 1}
    assert f"{len(want)} loci already in the region queued" in out, out
    assert "merger MJD 60000.50000" in out  # from event.time: the map has no MJD-OBS
    # a broker starting on this store dispatches the queued loci, each as of its latest alert
    conf = tmp_path / "broker.ini"
    conf.write_text("[broker]\nstore = store\nrun_dir = run\nmap_size = 64M\n"
                    "stats_interval = 0\n\n[filters]\nset = set.ini\nworkers = 1\n\n"
                    f"[control]\naddress = ipc://{tmp_path}/ctl.ipc\n")
    log = open(tmp_path / "broker.log", "wb")
    proc = subprocess.Popen([SKYSIEVE, "run", "--config", str(conf)], stdout=log, stderr=log,
                            cwd=tmp_path)
    try:
        import time
        deadline = time.monotonic() + 60
        got = set()
        while time.monotonic() < deadline and proc.poll() is None:
            tagged = sks("tagged", "--store", store, "gw_counterpart").splitlines()
            got = {json.loads(sks("locus", "--store", store, json.loads(t)["locus_id"]))
                   ["alerts"][0]["object_id"] for t in tagged}
            if len(got) >= 2:
                break
            time.sleep(0.2)
    finally:
        proc.send_signal(15)
        proc.wait(timeout=30)
        log.close()
    # as of their latest alerts: fading_inside now fades, so only these two
    assert got == {"rising_inside", "new_inside_bright"}, \
        (got, (tmp_path / "broker.log").read_text()[-3000:])
    assert proc.returncode == 0, (tmp_path / "broker.log").read_text()[-3000:]
    # what the notice said of the event: kept with the map, shown, and seen by filters
    listed = json.loads(sks("gw", "list", "--store", store, "--json"))
    assert listed["far"] == 1e-10 and listed["classification"]["BNS"] == 0.95
    assert listed["classification"]["BBH"] is None and listed["properties"]["HasNS"] is None
    shown = [json.loads(sks("locus", "--store", store, json.loads(t)["locus_id"]))
             for t in sks("tagged", "--store", store, "gw_counterpart").splitlines()]
    for locus in shown:
        assert locus["gw_events"][0]["classification"]["BNS"] == 0.95
        assert locus["properties"]["gw_p_ns"] == pytest.approx(0.95)
    # a kilonova search that wants BNS + NSBH >= 0.99 skips this event; the default keeps it
    strict = tmp_path / "strict.ini"
    strict.write_text(f"[filter gw_counterpart]\npath = {FILTER}\nsetup.min_ns_probability = 0.99\n")
    alerts_csv(str(tmp_path / "a.csv"), {"strict_new": (150.4, 29.8, [(60003.5, 18.0)])})
    sks("ingest", "--store", store, "--filters", str(strict), str(tmp_path / "a.csv"))
    alerts_csv(str(tmp_path / "b.csv"), {"default_new": (149.6, 30.2, [(60003.6, 18.0)])})
    sks("ingest", "--store", store, "--filters", str(ini), str(tmp_path / "b.csv"))
    now = {json.loads(sks("locus", "--store", store, json.loads(t)["locus_id"]))
           ["alerts"][0]["object_id"]
           for t in sks("tagged", "--store", store, "gw_counterpart").splitlines()}
    assert now == {"rising_inside", "new_inside_bright", "default_new"}, now
    retraction, _ = moc_notice(tmp_path, "RETRACTION", with_map=False)
    assert "map removed" in sks("gw", "notice", "--store", store, retraction)
    assert sks("gw", "list", "--store", store) == ""
    bad = tmp_path / "bad.json"
    bad.write_text('{"superevent_id": "S1", "alert_type": "UPDATE", "event": {"skymap": "@@"}}')
    r = subprocess.run([SKYSIEVE, "gw", "notice", "--store", store, str(bad)],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "bad.json: event S1: skymap is not base64" in r.stderr
