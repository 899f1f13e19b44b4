"""Client.stream against a live broker (`skysieve run` with [output] publish, `skysieve serve
--config` of it): alerts pushed with `skysieve send` come back as parsed server-sent events."""

import time

import pandas as pd
import pytest

import skysieve
from conftest import run

EVENT_WAIT = 20.0  # seconds for the broker to ingest, filter and publish a small file


def take(events, n, deadline):
    """Events from @p events until @p n of them are not comments, or @p deadline (monotonic)."""
    got = []
    while sum(e.event != "comment" for e in got) < n and time.monotonic() < deadline:
        try:
            got.append(next(events))
        except (StopIteration, skysieve.ConnectionFailed):
            break
    return got


def expected(rows: pd.DataFrame, tag: str):
    """{object id: the alert whose run sets @p tag}, by py_tagger's rules."""
    out = {}
    for o, g in rows.groupby("object_id", sort=False):
        det = g[g.mag.notna()]
        if tag == "py_three" and len(det) >= 3:
            out[o] = det.iloc[2]
        if tag == "py_bright" and (det.mag < 18).any():
            out[o] = det[det.mag < 18].iloc[0]
    return out


def test_stream_delivers_the_brokers_tags(live, binary):
    rows = pd.read_csv(live.dir / "send.csv", dtype={"alert_id": str, "object_id": str})
    three, bright = expected(rows, "py_three"), expected(rows, "py_bright")
    assert three and bright, "the simulated file tags nothing"
    n_all = len(three) + len(bright) + len(live.watch)
    with live.server.client() as c:
        only = c.stream(["py_three"], timeout=EVENT_WAIT)
        every = c.stream(timeout=EVENT_WAIT, comments=True)
        try:
            run(binary, "send", live.pull, live.dir / "send.csv")
            deadline = time.monotonic() + EVENT_WAIT
            got = take(only, len(three), deadline)
            seen = take(every, n_all, deadline)
        finally:
            only.close()
            every.close()

        # the filtered stream: py_three only, each locus once, with the alert that set it
        assert len(got) == len(three), f"{len(got)} py_three events, wanted {len(three)}"
        assert all(isinstance(e, skysieve.StreamEvent) for e in got)
        assert {e.event for e in got} == {"tag"} and {e.tag for e in got} == {"py_three"}
        by_object = {e.locus["sim_object_id"]: e for e in got}
        assert set(by_object) == set(three)
        for o, e in by_object.items():
            assert e.data["filter"] == "py_tagger"
            assert e.alert["mjd"] == pytest.approx(three[o].mjd, abs=1e-6)
            assert e.alert["object_id"] == o
            assert e.locus_id == e.locus["locus_id"] and e.locus["num_alerts"] >= 3
            assert e.raw and e.id is not None
        ids = [int(e.id) for e in got]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)

        # the unfiltered stream: its greeting, then both tags and the watch-list hits
        assert seen and seen[0].event == "comment" and seen[0].data is None
        evs = [e for e in seen if e.event != "comment"]
        assert len(evs) == n_all, [(e.event, e.tag) for e in evs]
        assert sorted(e.locus["sim_object_id"] for e in evs if e.tag == "py_three") == sorted(
            three)
        assert sorted(e.locus["sim_object_id"] for e in evs if e.tag == "py_bright") == sorted(
            bright)
        watch = [e for e in evs if e.event == "watch"]
        assert sorted(e.data["object"] for e in watch) == sorted(live.watch)
        assert all(e.data["list"] == "pylive" for e in watch)
        ids = [int(e.id) for e in evs]
        assert ids == sorted(ids)

        # what the stream said is in the store the server reads
        for o, e in list(by_object.items())[:3]:
            locus = c.get_by_id(e.locus_id)
            assert "py_three" in locus.tags
            assert locus.properties["sim_object_id"] == o


def test_stream_ends_when_closed(live):
    with live.server.client() as c:
        s = c.stream("py_three,py_bright", timeout=5)
        s.close()
        with pytest.raises(StopIteration):
            next(s)


def test_stream_without_a_broker_is_unavailable(client):
    with pytest.raises(skysieve.ServiceUnavailable) as e:
        client.stream(["py_three"])
    assert e.value.status == 503 and "--config" in e.value.detail


def test_filters_of_the_running_broker(live, binary):
    rows = pd.read_csv(live.dir / "send.csv")
    with live.server.client() as c:
        if not c.filters()["items"][0]["runs"]:  # run alone: the stream test sent nothing
            run(binary, "send", live.pull, live.dir / "send.csv")
        deadline = time.monotonic() + EVENT_WAIT
        while True:  # the broker's counters, once it has run on every alert sent above
            f = c.filters()
            if f["items"] and f["items"][0]["runs"] >= len(rows) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert [x["name"] for x in f["items"]] == ["py_tagger"]
    tagger = f["items"][0]
    assert tagger["runs"] == len(rows) and tagger["errors"] == 0
    assert tagger["tags"] == {"py_three": len(expected(rows, "py_three")),
                              "py_bright": len(expected(rows, "py_bright"))}
    assert f["broker"]["stored_alerts"] == len(rows)


def test_filters_without_a_broker_is_unavailable(client):
    with pytest.raises(skysieve.ServiceUnavailable) as e:
        client.filters()
    assert e.value.status == 503
