"""The spectra every lib test shares, so that the files cannot silently disagree.

SIGMA, LAM: distinct sigma_i and lam_i, learned in the order of sigma, with the
ordering condition (sigma_i^2 / lam_i decreasing along sigma) true; the `aligned`
fixture of conftest.py builds its data from them.
LAM_REORDERED: the same SIGMA with lam_2 = 0.4, so that mode 2 has the largest gain
sigma_i^2 / lam_i: reduced-rank regression and the flow's plateaus then disagree.
"""

import numpy as np

SIGMA = np.array([3.0, 2.0, 1.2, 0.5])
LAM = np.array([1.5, 0.8, 2.0, 1.0])
LAM_REORDERED = np.array([1.5, 0.4, 2.0, 1.0])
