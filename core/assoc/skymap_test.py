"""skysieve gw (core/assoc/skymap.c): sky maps read, stored and asked, against an independent
computation with healpy and numpy: the pixel a position falls in, its density, its greedy credible
level, the 90% area, and the distance moments along the line of sight (numerical integration of
the ansatz with scipy). On the real BAYESTAR map of ../shared/data/skymaps (skipped, saying so,
without it) and on flat RING and NESTED maps, plain and gzip-compressed, made here with healpy.
"""
import gzip
import json
import math
import os
import shutil
import subprocess

import numpy as np
import pytest

hp = pytest.importorskip("healpy")
from astropy.io import fits  # noqa: E402
from astropy.table import Table  # noqa: E402
from scipy import integrate  # noqa: E402

SKYSIEVE = os.environ.get("SKYSIEVE_BINARY", "skysieve")
SHARED = os.environ.get("SKYSIEVE_SHARED_DATA",
                        os.path.join(os.path.dirname(__file__), "../../../shared/data"))
BAYESTAR = os.path.join(SHARED, "skymaps", "bayestar-G361581.multiorder.fits")


def gw(*args, check=True):
    r = subprocess.run([SKYSIEVE, "gw", *map(str, args)], capture_output=True, text=True)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def at(store, event, positions):
    flat = [str(v) for p in positions for v in p]
    out = gw("at", "--store", store, event, *flat).stdout.splitlines()
    return [json.loads(line) for line in out]


def levels(density, area):
    order = np.lexsort((np.arange(len(density)), -density))
    prob = density * area
    cum = np.empty(len(density))
    cum[order] = np.cumsum(prob[order]) / prob.sum()
    return cum


def moments(mu, sigma):
    """Mean and std of r^2 N(r; mu, sigma) on r > 0, by quadrature."""
    lo, hi = max(0.0, mu - 12 * sigma), mu + 12 * sigma
    f = lambda r, k: r ** (2 + k) * math.exp(-0.5 * ((r - mu) / sigma) ** 2)
    m0 = integrate.quad(f, lo, hi, args=(0,), epsabs=0, epsrel=1e-10, limit=200)[0]
    m1 = integrate.quad(f, lo, hi, args=(1,), epsabs=0, epsrel=1e-10, limit=200)[0]
    m2 = integrate.quad(f, lo, hi, args=(2,), epsabs=0, epsrel=1e-10, limit=200)[0]
    mean = m1 / m0
    return mean, math.sqrt(m2 / m0 - mean * mean)


def moc_lookup(uniq, ra, dec):
    """Row of the multi-order map holding (ra, dec), found with healpy order by order."""
    orders = (np.log2(uniq).astype(int) - 2) // 2
    index = {int(u): i for i, u in enumerate(uniq)}
    theta, phi = np.radians(90 - dec), np.radians(ra)
    for o in np.unique(orders):
        u = 4 * 4 ** int(o) + hp.ang2pix(2 ** int(o), theta, phi, nest=True)
        if int(u) in index:
            return index[int(u)]
    raise AssertionError(f"no pixel for {ra} {dec}")


def test_bayestar_map_matches_healpy(tmp_path):
    if not os.path.exists(BAYESTAR):
        pytest.skip(f"no BAYESTAR sky map at {BAYESTAR} (../shared/data absent)")
    store = str(tmp_path / "s")
    out = gw("load", "--store", store, BAYESTAR).stdout
    assert "event G361581: 19200 pixels (orders up to 11)" in out
    t = Table.read(BAYESTAR)
    uniq = np.array(t["UNIQ"], dtype=np.int64)
    dens = np.array(t["PROBDENSITY"])
    orders = (np.log2(uniq).astype(int) - 2) // 2
    area = 4 * np.pi / (12 * 4.0 ** orders)
    cls = levels(dens, area)
    # positions: pixel centres drawn by probability (inside the region) and uniform ones
    rng = np.random.default_rng(5)
    picks = rng.choice(len(uniq), 60, p=dens * area / np.sum(dens * area))
    pos = []
    for i in picks:
        o = int(orders[i])
        th, ph = hp.pix2ang(2 ** o, int(uniq[i] - 4 * 4 ** o), nest=True)
        pos.append((math.degrees(ph), 90 - math.degrees(th)))
    pos += [(float(r), float(d)) for r, d in zip(rng.uniform(0, 360, 40),
                                                 np.degrees(np.arcsin(rng.uniform(-1, 1, 40))))]
    got = at(store, "G361581", pos)
    inside = 0
    for (ra, dec), g in zip(pos, got):
        i = moc_lookup(uniq, ra, dec)
        assert g["probdensity"] == pytest.approx(dens[i], rel=1e-12)
        assert g["credible_level"] == pytest.approx(cls[i], rel=1e-9, abs=1e-12)
        inside += g["credible_level"] <= 0.9
        if not np.isfinite(t["DISTMU"][i]):  # no distance information along this line
            assert g["dist_mean"] is None and g["dist_std"] is None
            continue
        mean, std = moments(t["DISTMU"][i], t["DISTSIGMA"][i])
        assert g["dist_mean"] == pytest.approx(mean, rel=1e-7)
        assert g["dist_std"] == pytest.approx(std, rel=1e-6)
    assert inside >= 45  # the probability-drawn ones are mostly inside the 90% region
    listed = json.loads(gw("list", "--store", store, "--json").stdout)
    assert listed["id"] == "G361581" and listed["pixels"] == 19200
    assert listed["mjd"] == pytest.approx(58877.28817630083, abs=1e-9)
    area90 = np.sum(area[cls <= 0.9]) * (180 / np.pi) ** 2
    assert listed["area90_deg2"] == pytest.approx(area90, rel=1e-9)


def flat_map(tmp_path, nest, gz, nside=64):
    npix = hp.nside2npix(nside)
    vec = hp.pix2vec(nside, np.arange(npix), nest=nest)
    centre = hp.ang2vec(math.radians(90 - 30), math.radians(150))
    prob = np.exp(np.dot(centre, vec) / 0.002)  # a blob of about 3 degrees
    prob /= prob.sum()
    mu = 100 + 50 * vec[2]
    sigma = np.full(npix, 20.0)
    norm = np.full(npix, 1e-4)
    name = tmp_path / f"flat_{'nest' if nest else 'ring'}.fits"
    hp.write_map(str(name), [prob, mu, sigma, norm], nest=nest, overwrite=True, dtype=np.float64,
                 column_names=["PROB", "DISTMU", "DISTSIGMA", "DISTNORM"],
                 extra_header=[("OBJECT", "S230000x"), ("MJD-OBS", 60000.5), ("DISTMEAN", 100.0),
                               ("DISTSTD", 20.0)])
    if gz:
        with open(name, "rb") as src, gzip.open(str(name) + ".gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        name = str(name) + ".gz"
    return str(name), nside, prob, mu, sigma


@pytest.mark.parametrize("nest,gz,nside", [(False, False, 64), (True, False, 64),
                                           (False, True, 64), (True, True, 64),
                                           (True, False, 128)])  # 196,608 pixels
def test_flat_maps_ring_and_nested_plain_and_gzip(tmp_path, nest, gz, nside):
    path, nside, prob, mu, sigma = flat_map(tmp_path, nest, gz, nside)
    store = str(tmp_path / "s")
    gw("load", "--store", store, "--name", "flat", path)
    area = np.full(len(prob), hp.nside2pixarea(nside))
    cls = levels(prob / area, area)
    rng = np.random.default_rng(9)
    pos = [(150 + d1, 30 + d2) for d1, d2 in rng.normal(0, 3, (30, 2))]
    pos += [(float(r), float(d)) for r, d in zip(rng.uniform(0, 360, 10), rng.uniform(-80, 80, 10))]
    for (ra, dec), g in zip(pos, at(store, "flat", pos)):
        i = hp.ang2pix(nside, math.radians(90 - dec), math.radians(ra), nest=nest)
        assert g["probdensity"] == pytest.approx(prob[i] / area[i], rel=1e-12)
        assert g["credible_level"] == pytest.approx(cls[i], rel=1e-9, abs=1e-12)
        assert g["distmu"] == pytest.approx(mu[i], rel=1e-12)
    listed = json.loads(gw("list", "--store", store, "--json").stdout)
    area90 = np.sum(area[cls <= 0.9]) * (180 / np.pi) ** 2
    assert listed["area90_deg2"] == pytest.approx(area90, rel=1e-9)
    assert listed["mjd"] == 60000.5 and listed["distmean"] == 100.0


def test_update_replaces_and_remove_withdraws(tmp_path):
    path, *_ = flat_map(tmp_path, False, False)
    store = str(tmp_path / "s")
    gw("load", "--store", store, path)  # the header's OBJECT
    gw("load", "--store", store, path)
    assert len(gw("list", "--store", store, "--json").stdout.splitlines()) == 1
    gw("remove", "--store", store, "S230000x")
    assert gw("list", "--store", store).stdout == ""
    r = gw("remove", "--store", store, "S230000x", check=False)
    assert r.returncode == 1 and "no sky map 'S230000x'" in r.stderr


def test_bad_files_are_refused_by_name(tmp_path):
    store = str(tmp_path / "s")
    junk = tmp_path / "junk.fits"
    junk.write_bytes(b"not a fits file at all" * 10)
    r = gw("load", "--store", store, str(junk), check=False)
    assert r.returncode == 1 and "junk.fits: not a FITS file" in r.stderr
    table = tmp_path / "table.fits"
    fits.BinTableHDU.from_columns([fits.Column("X", "D", array=np.zeros(3))]).writeto(table)
    r = gw("load", "--store", store, str(table), check=False)
    assert r.returncode == 1 and "table.fits: no ORDERING keyword" in r.stderr
    r = gw("load", "--store", store, str(tmp_path / "missing.fits"), check=False)
    assert r.returncode == 1 and "missing.fits: No such file" in r.stderr
    path, *_ = flat_map(tmp_path, True, False)
    r = gw("at", "--store", store, "nope", 1, 2, check=False)
    assert r.returncode == 1
