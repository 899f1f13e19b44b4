"""Client.cutout and Client.alert's stamp list over the shared real alerts: ZTF's gzip FITS and
Rubin's multi-HDU FITS, compared byte for byte with `skysieve cutout` reading the store."""

import gzip
import io

import numpy as np
import pytest
from astropy.io import fits

import skysieve
from conftest import run

pytestmark = pytest.mark.shared

ZTF_CANDID = "1105522281015015000"   # kowalski-20200202-v3.3/1105522281015015000.avro
RUBIN_SOURCE = "169298432598474839"  # rubin-lsstcam-v9.0/169298432598474839_*.avro


def cli_bytes(binary, real, survey, alert_id, kind):
    out = real.dir / f"{survey}-{alert_id}-{kind}.bin"
    run(binary, "cutout", "--store", real.store, "--survey", survey, "--output", out, alert_id,
        kind)
    return out.read_bytes()


@pytest.mark.parametrize("kind", skysieve.CUTOUT_KINDS)
def test_ztf_stamps_are_gzip_fits(real, real_client, binary, kind):
    raw = real_client.cutout(f"ztf_candidate:{ZTF_CANDID}", kind, output="bytes")
    assert raw == cli_bytes(binary, real, "ztf", ZTF_CANDID, kind)
    assert raw[:2] == b"\x1f\x8b"
    header = fits.Header.fromstring(gzip.decompress(raw)[:2880])
    hdu = real_client.cutout(f"ztf_candidate:{ZTF_CANDID}", kind)
    assert isinstance(hdu, fits.PrimaryHDU)
    assert hdu.header["NAXIS"] == 2
    assert hdu.data.shape == (header["NAXIS2"], header["NAXIS1"])
    arr = real_client.cutout(ZTF_CANDID, kind, output="array")  # a bare candid works too
    assert isinstance(arr, np.ndarray) and arr.shape == hdu.data.shape
    assert np.array_equal(arr, hdu.data, equal_nan=True)
    assert np.isfinite(arr).sum() > arr.size // 2


def test_ztf_alert_lists_its_stamps(real_client, real, binary):
    a = real_client.alert(f"ztf_candidate:{ZTF_CANDID}")
    assert a.survey == "ztf" and a.kind == "detection" and a.survey_alert_id == ZTF_CANDID
    assert a.locus_id and a.locus_id.startswith("SKY")
    assert [c["kind"] for c in a.cutouts] == list(skysieve.CUTOUT_KINDS)
    for c in a.cutouts:
        raw = real_client.cutout(a.alert_id, c["kind"], output="bytes")
        assert c["bytes"] == len(raw)
        assert c["file_name"].startswith(f"candid{ZTF_CANDID}") and c["file_name"].endswith(
            ".fits.gz")
        assert c["url"] == f"/api/v1/alerts/{a.alert_id}/cutouts/{c['kind']}"


def test_rubin_stamps_are_fits_with_several_hdus(real, real_client, binary):
    raw = real_client.cutout(f"lsst:{RUBIN_SOURCE}", "difference", output="bytes")
    assert raw == cli_bytes(binary, real, "lsst", RUBIN_SOURCE, "difference")
    assert raw[:6] == b"SIMPLE"
    hdul = real_client.cutout(f"lsst:{RUBIN_SOURCE}", "difference", output="hdulist")
    assert isinstance(hdul, fits.HDUList) and len(hdul) >= 2
    with fits.open(io.BytesIO(raw)) as ref:
        assert [h.data.shape for h in hdul] == [h.data.shape for h in ref]
    hdu = real_client.cutout(f"lsst:{RUBIN_SOURCE}", "difference")
    assert hdu.data.shape == (hdu.header["NAXIS2"], hdu.header["NAXIS1"])
    assert hdu.data.shape == hdul[0].data.shape


def test_rubin_alert_lists_its_stamps(real_client):
    a = real_client.alert(f"lsst:{RUBIN_SOURCE}")
    assert [c["kind"] for c in a.cutouts] == list(skysieve.CUTOUT_KINDS)
    for c in a.cutouts:
        assert c["bytes"] == len(real_client.cutout(a.alert_id, c["kind"], output="bytes"))


def test_missing_stamps(real_client):
    # a ZTF upper limit has no stamps
    lc = real_client.lightcurve("ZTF19aainpua", kinds="upper_limit")
    with pytest.raises(skysieve.NotFound) as e:
        real_client.cutout(lc.alert_id.iloc[0], "science")
    assert e.value.status == 404 and "stamp" in e.value.detail
    with pytest.raises(ValueError):
        real_client.cutout(f"ztf_candidate:{ZTF_CANDID}", "sideways")
    with pytest.raises(skysieve.NotFound) as e:  # the server refuses an unknown kind too
        real_client.request(f"/alerts/ztf_candidate:{ZTF_CANDID}/cutouts/sideways")
    assert "sideways" in e.value.detail
