"""Syntetos-Boylan demand classification: ADI (average inter-demand interval) x CV^2 of demand sizes.

ADI < 1.32 and CV^2 < 0.49 -> smooth; ADI < 1.32, CV^2 >= 0.49 -> erratic; ADI >= 1.32 and CV^2 < 0.49 ->
intermittent; both above -> lumpy. The class picks the candidate models of "auto": Croston-type methods only
help when demand is sparse; regression and naive methods suit regular demand.
"""

from __future__ import annotations

import numpy as np

ADI_CUT = 1.32
CV2_CUT = 0.49


def adi_cv2(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column of y (t, n), NaN = missing: ADI = observed days / demand days; CV^2 of non-zero demands.

    Days before a series' first sale do not count: an export that pads a new item with zeros from a common
    start date would otherwise make every new item look intermittent."""
    sold = np.isfinite(y) & (y > 0)
    before_first_sale = np.cumsum(sold, axis=0) == 0
    obs = np.isfinite(y) & ~before_first_sale
    pos = obs & (y > 0)
    n_obs, n_pos = obs.sum(0), pos.sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        adi = np.where(n_pos > 0, n_obs / np.maximum(n_pos, 1), np.inf)
        size = np.where(pos, y, 0.0)
        mean = size.sum(0) / np.maximum(n_pos, 1)
        var = (np.where(pos, (y - mean) ** 2, 0.0)).sum(0) / np.maximum(n_pos, 1)
        cv2 = np.where(mean > 0, var / mean**2, 0.0)
    return adi, cv2


def demand_class(y: np.ndarray, adi_cut: float = ADI_CUT, cv2_cut: float = CV2_CUT) -> np.ndarray:
    adi, cv2 = adi_cv2(y)
    sparse, variable = adi >= adi_cut, cv2 >= cv2_cut
    return np.select(
        [~sparse & ~variable, ~sparse & variable, sparse & ~variable],
        ["smooth", "erratic", "intermittent"],
        "lumpy",
    ).astype(object)
