"""Magnitudes and fluxes: the AB system in nanojansky, as the API's ``flux`` columns are.

An AB magnitude m is a flux of 10**(-0.4 * (m - 31.4)) nJy (3631 Jy at m = 0). The broker's
``ant_flux`` (and the light curve's ``flux``) is signed: a source fainter than in the template
(ZTF ``isdiffpos`` 'f' or '0', Rubin ``isNegative``) has a negative difference flux, while the
survey gives the magnitude of its absolute value.
"""

from __future__ import annotations

import numpy as np

#: The AB magnitude of 1 nJy.
AB_ZEROPOINT_NJY = 31.4


def flux_from_mag(mag, negative=False):
    """Flux in nJy of AB magnitude @p mag, negated where @p negative is true.

    Both arguments may be scalars or arrays (numpy, pandas). @p negative is the sign flag of the
    difference image: ZTF's ``isdiffpos`` is negative when 'f' or '0' (pass
    ``isdiffpos.isin(["f", "0"])``), Rubin's ``isNegative`` as it is.
    """
    flux = np.power(10.0, -0.4 * (np.asarray(mag, dtype=float) - AB_ZEROPOINT_NJY))
    sign = np.where(np.asarray(negative, dtype=bool), -1.0, 1.0)
    out = flux * sign
    return float(out) if np.ndim(out) == 0 else out


def mag_from_flux(flux):
    """AB magnitude of the absolute value of @p flux (nJy); NaN where the flux is 0 or NaN."""
    f = np.abs(np.asarray(flux, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(f > 0, AB_ZEROPOINT_NJY - 2.5 * np.log10(f), np.nan)
    return float(out) if np.ndim(out) == 0 else out
