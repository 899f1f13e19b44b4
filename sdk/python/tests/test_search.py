"""Client.search / count / cone_search / tagged / tags / catalog_cone against the simulated night
(and the real alerts when present).

Every test taking the `search_ready` fixture waits on the locus search (the search branch): it is
skipped, saying so, while the server answers 400 'search: not yet'. The refusals of bad
parameters are checked before any search runs, so those tests run now.
"""

import math

import astropy.units as u
import pytest
from astropy.coordinates import Angle, SkyCoord

import skysieve


def object_of(summary):
    """The survey object id of a locus summary (sim_object_id, twin_object_id, ztf_...)."""
    ids = [v for k, v in summary.items() if k.endswith("_object_id")]
    return ids[0] if ids else None


def all_loci(client):
    return list(client.search(page_size=1000))


def objects_with(night, pred):
    out = set()
    for o in set(night.alerts.object_id) - {"TWIN1"}:
        if pred(night.of(o)):
            out.add(o)
    return out


# ---- what every search returns ----

def test_search_without_filters_walks_every_locus_once(client, night, search_ready):
    everything = all_loci(client)
    ids = [s["locus_id"] for s in everything]
    assert len(ids) == len(set(ids)) == client.stats()["loci"]
    assert ids == sorted(ids)  # the default order: locus_id
    paged = [s["locus_id"] for s in client.search(page_size=7)]
    assert paged == ids
    assert [s["locus_id"] for s in client.search(page_size=7, limit=10)] == ids[:10]
    page = client.search_page(page=2, page_size=7)
    assert page["page"] == 2 and page["page_size"] == 7 and page["has_next"] is True
    assert [s["locus_id"] for s in page["items"]] == ids[7:14]
    last = client.search_page(page=math.ceil(len(ids) / 7), page_size=7)
    assert last["has_next"] is False and len(last["items"]) == len(ids) - 7 * (last["page"] - 1)
    assert client.count() == len(ids)
    twin = [s for s in everything if object_of(s) == "TWIN1"]
    assert len(twin) == 2


def test_summaries_match_the_loci(client, night, search_ready):
    by_object = {object_of(s): s for s in all_loci(client)}
    for o in night.objects()[:8]:
        s, rows = by_object[o], night.of(o)
        assert s["sim_object_id"] == o
        assert s["num_alerts"] == len(rows)
        assert s["num_mag_values"] == rows.mag.notna().sum()
        assert s["brightest_alert_magnitude"] == pytest.approx(rows.mag.min(), abs=1e-4)
        assert s["newest_alert_observation_time"] == pytest.approx(rows.mjd.max(), abs=1e-6)
        assert s["oldest_alert_observation_time"] == pytest.approx(rows.mjd.min(), abs=1e-6)
        assert s["locus_id"] == client.get_by_object_id(o).locus_id


# ---- property conditions ----

def test_property_conditions(client, night, search_ready):
    counts = night.alerts.groupby("object_id").size()
    n = int(counts[counts.index.isin(night.objects())].median())
    want = objects_with(night, lambda r: len(r) >= n)
    assert 0 < len(want) < len(night.objects())
    got = {object_of(s) for s in client.search(num_alerts__gte=n)}
    assert got == want
    assert {object_of(s) for s in client.search(**{"num_alerts.gte": n})} == want
    assert client.count(num_alerts__gte=n) == len(want)
    assert {object_of(s) for s in client.search(num_alerts__lt=n)} == (
        objects_with(night, lambda r: len(r) < n) | {"TWIN1"})

    bright = objects_with(night, lambda r: r.mag.min() < 18)
    assert {object_of(s) for s in client.search(brightest_alert_magnitude__lt=18)} == bright
    both = {object_of(s) for s in client.search(num_alerts__gte=n,
                                                  brightest_alert_magnitude__lt=18)}
    assert both == want & bright

    ndet = objects_with(night, lambda r: r.mag.notna().sum() >= 38)
    assert {object_of(s) for s in client.search(py_ndet__gte=38)} == ndet  # a filter's property
    o = night.objects()[3]
    assert [object_of(s) for s in client.search(sim_object_id__eq=o)] == [o]  # text


def test_sort_and_order(client, night, search_ready):
    desc = list(client.search(sort="num_alerts", order="desc", page_size=11))
    n = [s["num_alerts"] for s in desc]
    assert n == sorted(n, reverse=True) and len(desc) == client.count()
    newest = [s["newest_alert_observation_time"]
              for s in client.search(sort="newest_alert_observation_time")]
    assert newest == sorted(newest)


# ---- cones ----

def test_cone_search_nearest_first(client, night, search_ready):
    everything = all_loci(client)
    pos = SkyCoord([s["ra"] for s in everything] * u.deg, [s["dec"] for s in everything] * u.deg)
    o = night.objects()[7]
    t = night.truth[o]
    center = SkyCoord(t["ra"] * u.deg, t["dec"] * u.deg)
    for radius in (20.0, 1500.0):
        sep = center.separation(pos).arcsec
        inside = {s["locus_id"] for s, d in zip(everything, sep) if d < radius - 0.5}
        outside = {s["locus_id"] for s, d in zip(everything, sep) if d > radius + 0.5}
        got = list(client.cone_search(center, radius * u.arcsec))
        ids = {s["locus_id"] for s in got}
        assert inside <= ids and not (ids & outside), radius
        seps = [s["separation_arcsec"] for s in got]
        assert seps == sorted(seps) and all(d <= radius + 1e-6 for d in seps)
        assert object_of(got[0]) == o and seps[0] < 5
        for s in got:
            want = center.separation(SkyCoord(s["ra"] * u.deg, s["dec"] * u.deg)).arcsec
            assert s["separation_arcsec"] == pytest.approx(want, abs=1e-3)
    # the same cone in plain numbers, and with another filter
    plain = [s["locus_id"] for s in client.cone_search((t["ra"], t["dec"]), 1500)]
    assert plain == [s["locus_id"] for s in client.cone_search(center, Angle(25, u.arcmin))]
    n = night.of(o).shape[0]
    narrowed = list(client.cone_search(center, 1500, num_alerts__gte=n))
    assert o in {object_of(s) for s in narrowed}
    assert all(s["num_alerts"] >= n for s in narrowed)


# ---- tags ----

def test_search_by_tag(client, night, search_ready):
    want = night.tagged("py_three")
    got = list(client.search(tag="py_three"))
    assert {object_of(s) for s in got} == set(want)
    for s in got:
        a = want[object_of(s)]
        assert s["tagged_by"] == "py_tagger"
        assert s["tagged_mjd"] == pytest.approx(a.mjd, abs=1e-6)
        assert s["tagged_alert_id"] == f"sim:{a.alert_id}"
        assert s["tagged_time"].endswith("Z")
    mjds = sorted(a.mjd for a in want.values())
    since = mjds[len(mjds) // 2]
    late = {o for o, a in want.items() if a.mjd >= since - 1e-9}
    assert {object_of(s) for s in client.search(tag="py_three", tagged_since=since)} == late
    assert client.count(tag="py_bright") == len(night.tagged("py_bright"))


def test_tagged_latest_first(client, night, search_ready):
    want = night.tagged("py_three")
    got = list(client.tagged("py_three", page_size=5))
    assert {object_of(s) for s in got} == set(want)
    mjds = [s["tagged_mjd"] for s in got]
    assert mjds == sorted(mjds, reverse=True)
    assert [s["locus_id"] for s in client.tagged("py_three", limit=3)] == [
        s["locus_id"] for s in got[:3]]
    assert list(client.tagged("no_such_tag")) == []
    bright = {object_of(s) for s in client.tagged("py_three", brightest_alert_magnitude__lt=18)}
    assert bright == set(want) & set(night.tagged("py_bright"))


def test_tagged_since(client, night, search_ready):
    want = night.tagged("py_three")
    since = sorted(a.mjd for a in want.values())[len(want) // 2]
    recent = list(client.tagged("py_three", since=since))
    assert {object_of(s) for s in recent} == {o for o, a in want.items() if a.mjd >= since - 1e-9}
    assert all(s["tagged_mjd"] >= since - 1e-9 for s in recent)
    mjds = [s["tagged_mjd"] for s in recent]
    assert mjds == sorted(mjds, reverse=True)


def test_tags(client, night, search_ready):
    tags = {t["tag"]: t["newest_tagged_mjd"] for t in client.tags()}
    assert set(tags) == {"py_three", "py_bright"}
    for tag in tags:
        newest = max(a.mjd for a in night.tagged(tag).values())
        assert tags[tag] == pytest.approx(newest, abs=1e-6)


# ---- objects, catalogs, watch lists ----

def test_search_by_object_catalog_and_watch_list(client, night, search_ready):
    o = night.objects()[2]
    assert [object_of(s) for s in client.search(object_id=o)] == [o]
    assert len(list(client.search(object_id="TWIN1"))) == 2
    assert list(client.search(object_id="nobody")) == []
    assert {object_of(s) for s in client.search(catalog="pycat")} == set(night.catalog.values())
    assert {object_of(s) for s in client.search(watch="pywatch")} == set(night.watch.values())


def test_catalog_cone(client, night, search_ready):
    name, o = next(iter(night.catalog.items()))
    t = night.truth[o]
    rows = client.catalog_cone("pycat", (t["ra"], t["dec"]), 10)
    assert rows[0]["object_id"] == name and rows[0]["separation_arcsec"] < 0.01
    seps = [r["separation_arcsec"] for r in rows]
    assert seps == sorted(seps)
    wide = client.catalog_cone("pycat", SkyCoord(150.1 * u.deg, 2.2 * u.deg), 1 * u.deg)
    assert {r["object_id"] for r in wide} <= set(night.catalog)
    assert len(client.catalog_cone("pycat", (150.1, 2.2), 3600, max=1)) == 1
    assert client.catalog_cone("pycat", (10.0, -60.0), 60) == []
    with pytest.raises(skysieve.HTTPError) as e:
        client.catalog_cone("no_such_catalog", (t["ra"], t["dec"]), 10)
    assert e.value.status in (400, 404) and "no_such_catalog" in e.value.detail


# ---- refusals (checked before any search runs: these do not wait on the search branch) ----

@pytest.mark.parametrize("filters, named", [
    ({"bogus": 1}, "'bogus'"),
    ({"order": "sideways"}, "'order'"),
    ({"ra": 150.0}, "ra, dec"),
    ({"ra": 150.0, "dec": 2.0, "radius": 0}, "'radius'"),
    ({"ra": 150.0, "dec": 2.0, "radius": 1e6}, "'radius'"),
    ({"tagged_since": 60000}, "'tagged_since'"),
    ({"num_alerts__gte": "many"}, "'num_alerts.gte'"),
    ({"page_size": 0}, "'page_size'"),
])
def test_bad_searches_are_refused(client, filters, named):
    with pytest.raises(skysieve.BadRequest) as e:
        list(client.search(**filters))
    assert e.value.status == 400 and named in e.value.detail, e.value.detail


# ---- the real alerts ----

@pytest.mark.shared
def test_real_searches(real_client, search_ready):
    locus = real_client.get_by_object_id("ZTF19aainpua")
    found = list(real_client.search(object_id="ZTF19aainpua"))
    assert [s["locus_id"] for s in found] == [locus.locus_id]
    assert found[0]["ztf_object_id"] == "ZTF19aainpua"
    near = list(real_client.cone_search(locus.coord, 2 * u.arcsec))
    assert near[0]["locus_id"] == locus.locus_id and near[0]["separation_arcsec"] < 0.5


@pytest.mark.shared
def test_real_catalog_cone(real, real_client, search_ready):
    if not (real.shared / "catalogs" / "3hsp.csv").exists():
        pytest.skip("no 3hsp.csv among the shared catalogs")
    # the catalog's first row: 3HSPJ000116.4+293534 at 00 01 16.37 +29 35 34.0
    center = SkyCoord("00 01 16.37 +29 35 34.0", unit=(u.hourangle, u.deg))
    rows = real_client.catalog_cone("3hsp", center, 3 * u.arcsec)
    assert rows and rows[0]["row"] == 1 and rows[0]["separation_arcsec"] < 0.1
    assert "3HSPJ000116.4+293534" in str(rows[0]["object_id"]) + str(rows[0]["columns"])
