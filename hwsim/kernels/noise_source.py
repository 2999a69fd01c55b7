"""The devices' own write noise as the perturbation source (``[chip.perturbation] kind =
"write_noise"``; discrete mode, weight perturbation, a profile with write noise).

No code is generated. At the start of each code period k (step n = k·τp):

1. the baseline C₀ = C(θ) is sensed (θ as the devices hold it);
2. every device is read (read-back 1, read-noise coordinates ``NOISE_READ_COUNTER + n``,
   sub 0), then written a pair of small pulses, one up (+dw_min) and one down (−dw_min)
   (random coordinates of perturbation writes, 2⁶¹ + 2n and 2⁶¹ + 2n + 1, counted at the
   device limits by :mod:`.pert_write`), then read again (read-back 2, sub 1);
3. the reference r_i = read-back 2 − read-back 1 is what the pair actually did to device i
   (its c2c pulse noise and its redrawn write noise, plus any asymmetry), and the change stays
   in the devices: it is the applied perturbation. Every step of the period senses C(θ) and
   the integrator correlates C̃ = C − C₀ with r.

The two read-backs per device are counted in ``noise_readback_reads`` (2P per period).
The integrator's scale 1/(P·v), with v the expected variance of r (set by the chip,
docs/chip.md), gives E[G per step] = ∇C/P as a ±A code does.
"""

from hwsim.kernels import pert_write as _pw
from hwsim.kernels._config import jit
from hwsim.kernels.devices import S_DW_MIN, read_weights
from hwsim.kernels.sense import count, stored_cost

# Random coordinates of perturbation writes (as step.PERT_WRITE_COUNTER) and of the
# read-backs, apart from the steps' reads (< 2**59) and threshold read-backs (2**60 + k).
PERT_WRITE_COUNTER = 1 << 61
NOISE_READ_COUNTER = 1 << 59


@jit
def sense(p, s, m, want_base, new_code, n):
    """Sense one step with the write-noise source: at a new period the baseline, the pulse
    pair and its read-back (the reference into ``s.reference``), then C(θ)."""
    cnt = s.counters[0]
    dev = m.dev
    theta = s.theta
    req = s.req
    ref = s.reference
    P = theta.shape[0]
    noisy = p.noisy_reads == 1
    sample = s.clock[0].sample
    if want_base:
        stored_cost(m.sense, dev, noisy, theta, s.rb1, s.zeros, sample, s.out, n, 1)
        s.out[1] = s.out[0]
        count(cnt, p.counters, 0, 1)
    if new_code:
        dw = dev[2][S_DW_MIN]
        k = PERT_WRITE_COUNTER + 2 * n
        read_weights(dev, theta, s.rb1, NOISE_READ_COUNTER + n, 0)
        for i in range(P):
            req[i] = dw
        _pw.code_write(dev, theta, req, k, s.written, cnt)
        for i in range(P):
            req[i] = -dw
        _pw.code_write(dev, theta, req, k + 1, s.written, cnt)
        read_weights(dev, theta, s.rb0, NOISE_READ_COUNTER + n, 1)
        for i in range(P):
            ref[i] = s.rb0[i] - s.rb1[i]
        cnt.noise_readback_reads += 2 * P
    stored_cost(m.sense, dev, noisy, theta, s.rb0, s.zeros, sample, s.out, n, 0)
    count(cnt, p.counters, 1, 0)
