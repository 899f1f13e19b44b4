"""The client's own logic, without skysieve: the event-stream parser, search parameters, paging
and error answers against a scripted HTTP server on the loopback."""

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import astropy.units as u
import pytest
from astropy.time import Time

import skysieve
from skysieve.sse import SSEParser


# ---- the event-stream parser ----

def feed_all(parser, chunks):
    out = []
    for c in chunks:
        out.extend(parser.feed(c))
    return out


def test_sse_events_split_anywhere():
    text = (": skysieve stream\n\nid: 1\nevent: tag\ndata: {\"tag\": \"a\", \"locus\": "
            "{\"locus_id\": \"SKS1\"}}\n\n: keep-alive\n\nid: 2\r\nevent: watch\r\n"
            "data: {\"list\": \"w\", \"locus_id\": \"SKS2\"}\r\n\r\n").encode()
    whole = feed_all(SSEParser(), [text])
    for size in (1, 2, 3, 7):  # every split, CRLF and UTF-8 included
        parts = [text[i:i + size] for i in range(0, len(text), size)]
        assert feed_all(SSEParser(), parts) == whole
    assert [(e.id, e.event, e.tag, e.locus_id) for e in whole] == [
        ("1", "tag", "a", "SKS1"), ("2", "watch", None, "SKS2")]
    assert whole[1].data == {"list": "w", "locus_id": "SKS2"}


def test_sse_rules():
    p = SSEParser(comments=True)
    evs = feed_all(p, [b": hello\n\n", b"data:no space\ndata:  two\n\n", b"event: x\n\n",
                       b"data: \xc3\xa9t\xc3", b"\xa9\n\n", b"id: 7\nretry: 3000\ndata: [1]\n\n",
                       b"data: tail"])
    assert [e.event for e in evs] == ["comment", "message", "message", "message"]
    assert evs[0].comment == "hello" and evs[0].data is None
    assert evs[1].data == "no space\n two"  # not JSON: the text
    assert evs[2].data == "\u00e9t\u00e9"  # a character split across chunks
    assert evs[3].data == [1] and evs[3].id == "7" and p.retry_ms == 3000
    assert p.last_event_id == "7"  # an event without data is not dispatched; "tail" waits


# ---- parameters ----

def test_search_params():
    p = skysieve.search_params({
        "num_alerts__gte": 3, "newest_alert_magnitude__lt": 18.5, "sim_object_id__eq": "X",
        "odd.name.lte": 2, "a__b": 1, "tag": "fast", "count": True, "band": ["g", "r"],
        "radius": 2 * u.arcmin, "ra": 10 * u.deg, "dec": -5.0, "page_size": None,
        "tagged_since": Time(60000.5, format="mjd"),
    })
    assert p == {"num_alerts.gte": "3", "newest_alert_magnitude.lt": "18.5",
                 "sim_object_id.eq": "X", "odd.name.lte": "2", "a__b": "1", "tag": "fast",
                 "count": "true", "band": "g,r", "radius": "120.0", "ra": "10.0",
                 "dec": "-5.0", "tagged_since": "60000.5"}
    since = skysieve.search_params({"tagged_since": dt.datetime(2023, 2, 25, 12, 0)})
    assert float(since["tagged_since"]) == pytest.approx(60000.5)
    with pytest.raises(ValueError):
        skysieve.search_params({"ra": float("nan")})


def test_error_classes():
    assert skysieve.error_class(404) is skysieve.NotFound
    assert skysieve.error_class(409) is skysieve.Conflict
    assert skysieve.error_class(418) is skysieve.HTTPError
    for cls in (skysieve.BadRequest, skysieve.Unauthorized, skysieve.TooManyRequests,
                skysieve.ServiceUnavailable, skysieve.URITooLong, skysieve.PayloadTooLarge):
        assert issubclass(cls, skysieve.HTTPError) and issubclass(cls, skysieve.SkysieveError)
    e = skysieve.NotFound(404, "Not Found", "no locus 'x'", "http://h/api/v1/loci/x")
    assert str(e) == "404 Not Found: no locus 'x' (http://h/api/v1/loci/x)"


# ---- a scripted server ----

class Script(BaseHTTPRequestHandler):
    routes = {}
    seen = []

    def do_GET(self):
        url = urlsplit(self.path)
        q = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        Script.seen.append((url.path, q, self.headers.get("Authorization")))
        status, headers, body = Script.routes[url.path](q)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def scripted():
    Script.routes, Script.seen = {}, []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Script)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield Script, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def js(o, status=200, headers=None):
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(o).encode()


def test_search_pages_until_has_next_is_false(scripted):
    script, url = scripted
    loci = [{"locus_id": f"L{i:02d}"} for i in range(23)]

    def page(q):
        n, size = int(q["page"]), int(q.get("page_size", 10))
        items = loci[(n - 1) * size: n * size]
        return js({"page": n, "page_size": size, "has_next": n * size < len(loci),
                   "items": items})

    script.routes["/api/v1/loci"] = page
    c = skysieve.Client(url, token="t0k")
    assert [x["locus_id"] for x in c.search(page_size=10, tag="x")] == [
        x["locus_id"] for x in loci]
    assert [q["page"] for _, q, _ in script.seen] == ["1", "2", "3"]
    assert all(q["tag"] == "x" for _, q, _ in script.seen)
    assert {a for _, _, a in script.seen} == {"Bearer t0k"}
    script.seen.clear()
    assert len(list(c.search(page_size=10, limit=12))) == 12
    assert len(script.seen) == 2  # stops asking once it has enough
    assert list(c.search(limit=0)) == []


def test_a_lying_has_next_does_not_loop(scripted):
    script, url = scripted
    script.routes["/api/v1/loci"] = lambda q: js({"has_next": True, "items": []})
    assert list(skysieve.Client(url).search()) == []


def test_errors_without_the_apis_json(scripted):
    script, url = scripted
    script.routes["/api/v1/stats"] = lambda q: (502, {"Content-Type": "text/plain"},
                                                b"bad gateway")
    script.routes["/api/v1/loci/x"] = lambda q: (200, {"Content-Type": "application/json"},
                                                 b"{not json")
    c = skysieve.Client(url)
    with pytest.raises(skysieve.HTTPError) as e:
        c.stats()
    assert type(e.value) is skysieve.HTTPError and e.value.status == 502
    assert e.value.detail == "bad gateway"
    with pytest.raises(skysieve.ProtocolError):
        c.get_by_id("x")


def test_ids_are_escaped_in_paths(scripted):
    script, url = scripted
    script.routes["/api/v1/alerts/ztf_candidate:1%2F2/cutouts/science"] = lambda q: (
        404, {"Content-Type": "application/json"},
        b'{"error": "Not Found", "detail": "no alert"}')
    with pytest.raises(skysieve.NotFound):
        skysieve.Client(url).cutout("ztf_candidate:1/2", "science")


def test_stream_wants_an_event_stream(scripted):
    script, url = scripted
    script.routes["/api/v1/stream"] = lambda q: js({"not": "a stream"})
    with pytest.raises(skysieve.ProtocolError):
        skysieve.Client(url).stream()
