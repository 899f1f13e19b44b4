"""Client.get_by_id / get_by_object_id / alert against the simulated night: counts, time order,
ids, tags, filter properties, catalog and watch matches, as_of and before."""

import math

import numpy as np
import pytest

import skysieve


def picks(night, n_per_model=1):
    """A few objects of each simulated model, with three detections or more."""
    out, seen = [], {}
    for o, t in sorted(night.truth.items()):
        if len(night.detections(o)) >= 3 and seen.get(t["model"], 0) < n_per_model:
            seen[t["model"]] = seen.get(t["model"], 0) + 1
            out.append(o)
    assert len(out) >= 3, f"the simulation has too few models: {seen}"
    return out


def sep_arcsec(ra1, dec1, ra2, dec2):
    r = math.radians
    c = (math.sin(r(dec1)) * math.sin(r(dec2))
         + math.cos(r(dec1)) * math.cos(r(dec2)) * math.cos(r(ra1 - ra2)))
    return math.degrees(math.acos(min(1.0, max(-1.0, c)))) * 3600


def test_get_by_object_id_has_every_alert_in_time_order(client, night):
    for o in picks(night, 2):
        rows = night.of(o)
        locus = client.get_by_object_id(o)
        assert isinstance(locus, skysieve.Locus)
        assert locus.locus_id.startswith("SKY") and len(locus.locus_id) == 19
        assert locus.properties["num_alerts"] == len(rows)
        assert locus.properties["sim_object_id"] == o
        assert len(locus.alerts) == len(rows)
        mjds = [a.mjd for a in locus.alerts]
        assert mjds == sorted(mjds), f"{o}: alerts not in time order"
        assert [a.survey_alert_id for a in locus.alerts] == list(rows.alert_id)
        assert all(a.alert_id == f"sim:{a.survey_alert_id}" for a in locus.alerts)
        assert {a.kind for a in locus.alerts} == {"detection"}
        assert {a.object_id for a in locus.alerts} == {o}
        np.testing.assert_allclose(mjds, rows.mjd.to_numpy(), atol=1e-6)
        np.testing.assert_allclose([a.properties["ant_mag"] for a in locus.alerts],
                                   rows.mag.to_numpy(), atol=1e-4)
        assert locus.properties["brightest_alert_magnitude"] == pytest.approx(rows.mag.min(),
                                                                              abs=1e-4)
        assert locus.properties["newest_alert_observation_time"] == pytest.approx(
            rows.mjd.max(), abs=1e-6)
        for band, g in rows.groupby("passband"):
            assert locus.properties[f"num_alerts_{band}"] == len(g)
        t = night.truth[o]
        assert sep_arcsec(locus.ra, locus.dec, t["ra"], t["dec"]) < 5.0


def test_get_by_id_is_the_same_locus(client, night):
    o = picks(night)[0]
    by_object = client.get_by_object_id(o)
    by_id = client.get_by_id(by_object.locus_id)
    assert by_id.locus_id == by_object.locus_id
    assert [a.alert_id for a in by_id.alerts] == [a.alert_id for a in by_object.alerts]
    assert by_id.properties == by_object.properties
    assert by_id.raw == by_object.raw


def test_tags_and_the_filters_property(client, night):
    three, bright = night.tagged("py_three"), night.tagged("py_bright")
    assert three and bright and set(bright) != set(three), "the night tests nothing"
    for o in night.objects():
        locus = client.get_by_object_id(o)
        want = [t for t, s in (("py_three", three), ("py_bright", bright)) if o in s]
        assert sorted(locus.tags) == sorted(want), o
        assert locus.properties["py_ndet"] == len(night.detections(o))
        for rec in locus.tag_history:
            a = (three if rec["tag"] == "py_three" else bright)[o]
            assert rec["filter"] == "py_tagger"
            assert rec["alert_id"] == f"sim:{a.alert_id}", (o, rec)
            assert rec["mjd"] == pytest.approx(a.mjd, abs=1e-6)
            assert rec["survey"] == "sim"


def test_as_of_shows_the_locus_as_a_filter_saw_it(client, night):
    o = next(o for o in picks(night) if len(night.of(o)) >= 5)
    rows = night.of(o)
    third = night.expected_tag(o, "py_three")
    k = list(rows.alert_id).index(third.alert_id)  # the alert whose run set py_three
    at = client.get_by_object_id(o, as_of=f"sim:{third.alert_id}")
    assert [a.survey_alert_id for a in at.alerts] == list(rows.alert_id[: k + 1])
    assert at.properties["num_alerts"] == k + 1
    assert at.as_of["alert_id"] == f"sim:{third.alert_id}"
    assert "py_three" not in at.tags  # set by that very run: not yet there as it ran
    after = client.get_by_object_id(o, as_of=rows.alert_id.iloc[k + 1])  # a bare id too
    assert len(after.alerts) == k + 2
    assert "py_three" in after.tags
    with pytest.raises(skysieve.NotFound) as e:
        client.get_by_object_id(o, as_of="sim:no-such-alert")
    assert e.value.status == 404 and "no-such-alert" in e.value.detail


def test_before_keeps_what_was_observed_earlier(client, night):
    o = picks(night)[0]
    rows = night.of(o)
    cut = float(rows.mjd.iloc[len(rows) // 2]) + 1e-4
    locus = client.get_by_object_id(o, before=cut)
    want = rows[rows.mjd < cut]
    assert len(want) < len(rows)
    assert [a.survey_alert_id for a in locus.alerts] == list(want.alert_id)
    assert locus.properties["num_alerts"] == len(want)
    assert locus.before == pytest.approx(cut)
    assert all(a.mjd < cut for a in locus.alerts)


def test_catalog_matches_and_watch_lists_on_the_locus(client, night):
    for name, o in night.catalog.items():
        m = client.get_by_object_id(o).catalog_matches
        assert [x["catalog"] for x in m] == ["pycat"], (o, m)
        assert m[0]["object_id"] == name
        assert m[0]["separation_arcsec"] < 4.0
        assert m[0]["columns"]["name"] == name
    for name, o in night.watch.items():
        w = client.get_by_object_id(o).watch
        assert [(x["list"], x["object"]) for x in w] == [("pywatch", name)], (o, w)
    other = next(o for o in night.objects()
                 if o not in night.catalog.values() and o not in night.watch.values())
    locus = client.get_by_object_id(other)
    assert locus.catalog_matches == [] and locus.watch == []


def test_upper_limits_have_their_own_ids(client, night):
    locus = client.get_by_object_id("SIMUL1")
    kinds = [(a.alert_id, a.kind) for a in locus.alerts]
    assert kinds == [("sim_upper_limit:ul-1", "upper_limit"), ("sim:x-1", "detection"),
                     ("sim_upper_limit:ul-2", "upper_limit"), ("sim:x-2", "detection"),
                     ("sim:x-3", "detection")]
    ul = locus.alerts[0]
    assert ul.properties["ant_mag"] is None and ul.properties["ant_maglim"] == 22.5
    assert "py_three" in locus.tags and locus.properties["py_ndet"] == 3


def test_alert_by_id(client, night):
    o = picks(night)[0]
    row = night.of(o).iloc[3]
    a = client.alert(f"sim:{row.alert_id}")
    assert isinstance(a, skysieve.Alert)
    assert a.alert_id == f"sim:{row.alert_id}" and a.survey_alert_id == row.alert_id
    assert a.object_id == o and a.kind == "detection"
    assert a.mjd == pytest.approx(row.mjd, abs=1e-6)
    assert a.properties["ant_mag"] == pytest.approx(row.mag, abs=1e-4)
    assert a.properties["ant_passband"] == row.passband
    assert a.locus_id == client.get_by_object_id(o).locus_id
    assert a.cutouts == []  # tuple alerts have no stamps
    assert client.alert(row.alert_id).alert_id == a.alert_id  # a bare id
    ul = client.alert("sim_upper_limit:ul-2")
    assert ul.kind == "upper_limit" and ul.properties["ant_passband"] == "r"


def test_an_object_id_in_two_surveys_is_a_conflict(client, night):
    with pytest.raises(skysieve.Conflict) as e:
        client.get_by_object_id("TWIN1")
    assert e.value.status == 409
    assert isinstance(e.value, skysieve.HTTPError)
    assert "TWIN1" in e.value.detail or "SKS" in e.value.detail


def test_not_found(client):
    cases = [lambda: client.get_by_id("SKS0000000000000000"),
             lambda: client.get_by_object_id("ZTF00nosuchobj"),
             lambda: client.alert("sim:no-such-alert"),
             lambda: client.lightcurve("nope"),
             lambda: client.cutout("sim:no-such-alert", "science"),
             lambda: client.get_json("/no/such/route")]
    for f in cases:
        with pytest.raises(skysieve.NotFound) as e:
            f()
        assert e.value.status == 404 and e.value.error == "Not Found" and e.value.detail


def test_bad_requests_name_the_parameter(client, night):
    o = picks(night)[0]
    with pytest.raises(skysieve.BadRequest) as e:
        client.lightcurve(o, kinds="sideways")
    assert e.value.status == 400 and "'kinds'" in e.value.detail
    with pytest.raises(skysieve.BadRequest) as e:
        client.get_json(f"/loci/{o}", {"bogus": 1})
    assert "unknown parameter 'bogus'" in e.value.detail
    with pytest.raises(skysieve.BadRequest) as e:
        client.get_json(f"/loci/{o}", {"before": "yesterday"})
    assert "'before'" in e.value.detail
    with pytest.raises(skysieve.BadRequest) as e:
        client.get_json("/stats", {"format": "xml"})
    assert "'format'" in e.value.detail


def test_stats_and_info(client, night):
    st = client.stats()
    assert st["alerts"] == len(night.alerts)
    assert st["upper_limits"] == int(night.alerts.mag.isna().sum())
    assert st["detections"] == int(night.alerts.mag.notna().sum())
    assert st["loci"] == len(night.objects()) + 3  # SIMUL1 and TWIN1 in two places
    info = client.info()
    assert info["name"] == "skysieve" and info["api"] == "/api/v1"
    assert client.openapi()["openapi"].startswith("3.")
    assert [c["name"] for c in client.catalogs()] == ["pycat"]
    assert client.catalogs()[0]["rows"] == len(night.catalog)
    assert [w["name"] for w in client.watch_lists()] == ["pywatch"]


def test_connection_failures_are_their_own_error():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        with pytest.raises(skysieve.ConnectionFailed):
            skysieve.Client(f"http://127.0.0.1:{port}", timeout=5).stats()


def test_the_url_may_name_the_api_root(night):
    with skysieve.Client(night.server.url + "/api/v1/") as c:
        assert c.api == night.server.url + "/api/v1"
        assert c.stats()["loci"] > 0
