"""Client.lightcurve: a DataFrame per locus, its filters, and the flux sign convention (the
simulated night always; the shared ZTF and Rubin alerts when present)."""

import numpy as np
import pandas as pd
import pytest

import skysieve
from conftest import inspect_alerts


def some_object(night, min_rows=10):
    return next(o for o in night.objects() if len(night.of(o)) >= min_rows)


def test_lightcurve_is_the_objects_measurements_in_time_order(client, night):
    o = some_object(night)
    rows = night.of(o).sort_values("mjd", kind="mergesort")
    lc = client.lightcurve(o)
    assert isinstance(lc, pd.DataFrame)
    assert list(lc.columns) == skysieve.LIGHTCURVE_COLUMNS
    assert lc.attrs["locus_id"] == client.get_by_object_id(o).locus_id
    assert len(lc) == len(rows)
    assert lc.mjd.is_monotonic_increasing
    assert list(lc.alert_id) == [f"sim:{a}" for a in rows.alert_id]
    assert list(lc.band) == list(rows.passband)
    np.testing.assert_allclose(lc.mag, rows.mag, atol=1e-4)
    np.testing.assert_allclose(lc.magerr, rows.magerr, atol=1e-4)
    np.testing.assert_allclose(lc.maglim, rows.maglim, atol=1e-4)
    assert set(lc.kind) == {"detection"} and set(lc.survey) == {"sim"}
    for c in ("mjd", "mag", "magerr", "maglim", "flux", "fluxerr"):
        assert lc[c].dtype == np.float64, c
    # tuple alerts carry magnitudes only: a flux, when the server derives one, is the magnitude's
    have = lc.flux.notna()
    np.testing.assert_allclose(lc.flux[have], skysieve.flux_from_mag(lc.mag[have]), rtol=1e-3)


def test_the_servers_own_order_is_time_order(client, night):
    o = some_object(night)
    items = client.get_json(f"/loci/{o}/lightcurve")["items"]
    mjds = [i["mjd"] for i in items]
    assert len(mjds) == len(night.of(o)) and mjds == sorted(mjds)


def test_lightcurve_filters(client, night):
    o = some_object(night)
    rows = night.of(o)
    g = client.lightcurve(o, bands="g")
    assert len(g) == (rows.passband == "g").sum() > 0 and set(g.band) == {"g"}
    both = client.lightcurve(o, bands=["g", "r"])
    assert len(both) == len(rows[rows.passband.isin(["g", "r"])])
    assert len(client.lightcurve(o, bands="z")) == 0
    cut = float(rows.mjd.median())
    early = client.lightcurve(o, before=cut)
    assert len(early) == (rows.mjd < cut).sum() and (early.mjd < cut).all()
    empty = client.lightcurve(o, kinds="upper_limit")
    assert len(empty) == 0 and list(empty.columns) == skysieve.LIGHTCURVE_COLUMNS


def test_upper_limits_in_the_lightcurve(client):
    lc = client.lightcurve("SIMUL1")
    assert list(lc.kind) == ["upper_limit", "detection", "upper_limit", "detection",
                             "detection"]
    ul = client.lightcurve("SIMUL1", kinds="upper_limit")
    assert list(ul.alert_id) == ["sim_upper_limit:ul-1", "sim_upper_limit:ul-2"]
    assert ul.mag.isna().all() and list(ul.maglim) == [22.5, 22.0]
    det = client.lightcurve("SIMUL1", kinds=["detection"], bands="g")
    assert list(det.alert_id) == ["sim:x-1", "sim:x-3"]
    assert list(det.mag) == [21.0, 20.0]


def test_flux_helpers():
    assert skysieve.flux_from_mag(31.4) == pytest.approx(1.0)
    assert skysieve.flux_from_mag(23.9) == pytest.approx(1000.0, rel=1e-12)  # 1 uJy
    assert skysieve.flux_from_mag(20.0, negative=True) == pytest.approx(-10 ** (0.4 * 11.4))
    out = skysieve.flux_from_mag(np.array([20.0, 20.0]), np.array([False, True]))
    assert out[0] > 0 and out[1] == -out[0]
    assert skysieve.mag_from_flux(-out[0]) == pytest.approx(20.0)
    assert np.isnan(skysieve.mag_from_flux(0.0))


# ---- real alerts: the sign of the difference flux ----

@pytest.mark.shared
def test_ztf_flux_is_signed_by_isdiffpos(real, real_client, binary):
    """ZTF19aainpua fades below its template: isdiffpos 'f', negative difference flux. The light
    curve's flux must carry isdiffpos's sign and the magnitude's size, and hold every measurement
    the alert file has (the decoder's view, from `skysieve inspect`)."""
    files = [p for d in real.inputs for p in sorted(d.iterdir()) if p.suffix == ".avro"]
    mine = [f for f in files if b"ZTF19aainpua" in f.read_bytes()]
    assert mine, "ZTF19aainpua is not in the shared alerts"
    decoded = {}
    for f in mine:
        for a in inspect_alerts(binary, f):
            if a["object_id"] == "ZTF19aainpua":
                decoded[(a["kind"], a["alert_id"])] = a
    lc = real_client.lightcurve("ZTF19aainpua")
    assert len(lc) == len(decoded)
    assert lc.mjd.is_monotonic_increasing
    counts = lc.kind.value_counts().to_dict()
    want = pd.Series([k for k, _ in decoded]).value_counts().to_dict()
    assert counts == want and counts["detection"] > 10 and counts.get("upper_limit", 0) > 0
    det = lc[lc.kind == "detection"]
    signs = []
    for _, row in det.iterrows():
        raw = decoded[("detection", row.alert_id.split(":", 1)[1])]["properties"]
        negative = raw["ztf_isdiffpos"] in ("f", "0")
        signs.append(negative)
        assert (row.flux < 0) == negative, row.alert_id
        assert abs(row.flux) == pytest.approx(10 ** (-0.4 * (raw["ztf_magpsf"] - 31.4)),
                                              rel=1e-5)
        assert row.mag == pytest.approx(raw["ztf_magpsf"], abs=1e-5)
    assert any(signs), "no negative detection to test the sign with"
    np.testing.assert_allclose(
        det.flux, skysieve.flux_from_mag(det.mag, np.array(signs)), rtol=1e-5)
    ul = lc[lc.kind == "upper_limit"]
    assert ul.mag.isna().all() and ul.maglim.notna().all()
    assert all(a.startswith("ztf_upper_limit:") for a in ul.alert_id)
    fp = lc[lc.kind == "forced_photometry"]
    assert len(fp) and all(a.startswith("ztf_fp:") for a in fp.alert_id)
    assert fp.flux.notna().all()
    for kind, g in lc.groupby("kind"):  # each kind's shown id finds its alert
        a = real_client.alert(g.alert_id.iloc[-1])
        assert (a.kind, a.alert_id, a.object_id) == (kind, g.alert_id.iloc[-1], "ZTF19aainpua")
        assert a.mjd == pytest.approx(g.mjd.iloc[-1])


# Rubin diaSources whose psfFlux is negative while their isNegative flag is false (Rubin's flag
# and the flux's sign disagree): the API's flux keeps psfFlux's sign, the ANTARES tutorial's rule
# (psfFlux, negated where isNegative) gives them positive.
RUBIN_SIGN_DISAGREES = {"169298432734265405", "169298432875298885"}


@pytest.mark.shared
def test_rubin_flux_is_signed(real, real_client):
    """Rubin's alerts, as ANTARES reports them, give psfFlux as a positive number and flag a
    negative one with isNegative; the light curve's flux is the signed psfFlux (nJy), so it is
    -psfFlux where isNegative is set, and where the flux was negative without the flag."""
    seen = {True: 0, False: 0}
    disagree = set()
    for p in sorted((real.shared / "lsst" / "rubin-lsstcam-v9.0").iterdir()):
        alert = real_client.alert(f"lsst:{p.name.split('_')[0]}")  # the file's diaSourceId
        assert alert.survey == "lsst" and alert.kind == "detection"
        locus = real_client.get_by_id(alert.locus_id)
        assert alert.alert_id in [a.alert_id for a in locus.alerts]
        lc = real_client.lightcurve(locus.locus_id, kinds="detection")
        assert len(lc) == len([a for a in locus.alerts if a.kind == "detection"]) >= 1
        for a in locus.alerts:
            if a.kind != "detection":
                continue
            props = a.properties
            neg = bool(props["lsst_diaSource_isNegative"])
            row = lc[lc.alert_id == a.alert_id].iloc[0]
            assert a.alert_id == f"lsst:{a.survey_alert_id}"
            assert props["lsst_diaSource_psfFlux"] > 0
            assert abs(row.flux) == pytest.approx(props["lsst_diaSource_psfFlux"])
            assert row.flux == pytest.approx(props["ant_flux"])
            assert row.mag == pytest.approx(skysieve.mag_from_flux(row.flux), abs=1e-6)
            if neg:
                assert row.flux < 0, a.alert_id
            elif row.flux < 0:
                disagree.add(a.survey_alert_id)
            seen[bool(row.flux < 0)] += 1
    assert disagree == RUBIN_SIGN_DISAGREES
    assert seen[True] >= 3 and seen[False] >= 90, seen
