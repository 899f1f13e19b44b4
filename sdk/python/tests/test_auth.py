"""A server started with --token-file, and one with a rate limit: Unauthorized (401) and
TooManyRequests (429) with the server's detail, a right token, and retries after Retry-After."""

import time

import pytest

import skysieve
from conftest import TOKEN, start_server


def test_no_token_is_unauthorized(token_server, night):
    with token_server.client(token=None) as c:
        for call in (c.stats, lambda: c.get_by_object_id(night.objects()[0]),
                     lambda: c.lightcurve(night.objects()[0]), lambda: c.stream(["py_three"])):
            with pytest.raises(skysieve.Unauthorized) as e:
                call()
            assert e.value.status == 401 and e.value.error == "Unauthorized"
            assert "bearer token" in e.value.detail.lower()


def test_a_wrong_token_is_unauthorized(token_server):
    with token_server.client(token=TOKEN + "x") as c:
        with pytest.raises(skysieve.Unauthorized):
            c.stats()


def test_the_right_token_opens_everything(token_server, night):
    o = night.objects()[0]
    with token_server.client() as c:  # token=TOKEN
        assert c.stats()["alerts"] == len(night.alerts)
        assert len(c.get_by_object_id(o).alerts) == len(night.of(o))
        assert len(c.lightcurve(o)) == len(night.of(o))
        with pytest.raises(skysieve.NotFound):  # past the gate: the route's own answer
            c.get_by_id("SKS0000000000000000")
        with pytest.raises(skysieve.ServiceUnavailable):  # no broker: 503, not 401
            c.stream(["py_three"])


def test_rate_limit_and_retries(binary, night, servers):
    s = start_server(binary, night.dir, "serve-rate", "--store", night.store, "--set", "rate=1",
                     "--set", "burst=1")
    servers.append(s)
    time.sleep(1.1)  # the start-up probe took the one request of the burst
    with s.client() as c:
        c.stats()
        with pytest.raises(skysieve.TooManyRequests) as e:
            c.stats()
        assert e.value.status == 429 and e.value.retry_after and e.value.retry_after >= 1
        assert "requests a second" in e.value.detail
    with s.client(retries=3) as c:
        t0 = time.monotonic()
        c.stats()
        c.stats()  # waits for Retry-After, then succeeds
        assert time.monotonic() - t0 >= 0.5
