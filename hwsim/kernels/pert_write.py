"""Perturbation writes at the device limits (write-based perturbation, discrete mode).

With ``perturbation_by_write`` the code is written into the devices as pulses (and removed
as pulses before a baseline read). Each such write is measured as the write controller of a
chip would measure it, per synapse whose requested change is non-zero and finite:

- ``pert_writes``: synapse perturbation writes requested (code in, code out, or the change
  to the next code);
- ``pert_clipped``: of those, the writes in which a pulse hit the device's bound (the
  device's own ``clipped_writes`` criterion, :func:`hwsim.kernels.devices.apply_pulses`);
- ``pert_zero_pulses``: of those, the writes whose change rounded to zero pulses (nothing
  was written: nearest rounding of |Δ| < dw_min/2, or a stochastic draw of 0).

The physics is exactly :func:`hwsim.kernels.devices.apply_update`'s; only ``written`` (a
float64 (P,) scratch buffer) receives the nominal change sent, from which the zero-pulse
writes are counted.
"""

import math

from hwsim.kernels._config import jit
from hwsim.kernels.devices import ST_CLIPPED, apply_pulses


@jit
def code_write(dev, theta, req, counter, written, cnt):
    """Write the perturbation change ``req`` (P,) into the devices as update ``counter`` and
    count it in ``cnt`` (``pert_writes``, ``pert_clipped``, ``pert_zero_pulses``)."""
    stats = dev[4]
    clipped0 = stats[ST_CLIPPED]
    apply_pulses(dev, theta, req, counter, written, True)
    n = 0
    zero = 0
    for i in range(req.shape[0]):
        r = req[i]
        if r != 0.0 and math.isfinite(r):
            n += 1
            if written[i] == 0.0:
                zero += 1
    cnt.pert_writes += n
    cnt.pert_zero_pulses += zero
    cnt.pert_clipped += stats[ST_CLIPPED] - clipped0
