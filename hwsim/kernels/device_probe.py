"""Measurements on a copy of the device tuple: pulse responses, symmetry points and dtod draws.

None of them changes ``dev`` (docs/devices.md: pulse response; symmetry point).
"""


from hwsim.kernels._config import jit
from hwsim.kernels.device_layout import (
    I_MODEL, I_NCOLS, I_ONE_SIDED, I_SEED, M_IDEAL, R_B_MAX, R_B_MIN, R_STUCK, S_DW_STD,
)
from hwsim.kernels.device_pulse import (
    clip_to, pulse_step_call, quantize_level,
)
from hwsim.kernels.hashing import (
    STREAM_C2C, STREAM_DTOD, hash_keyed, hash_sub, normal_from_bits, stream_key, uniform01,
)


@jit
def pulse_response(dev, n, counter, out):
    """Drive every weight ``n`` pulses up then ``n`` down from the stored state, on a copy
    (``dev`` is not changed); out (2n+1, P) receives the stored weights (no write noise)
    before the first pulse and after each pulse. Pulse k uses c2c coordinates
    (counter, device, k); pairs potentiate G+ going up and G- going down. Returns ``out``."""
    I, D, S, T, stats, W, WN, DREF, TPROG = dev
    P = out.shape[1]
    w = W.copy()
    one_sided = I[I_ONE_SIDED] != 0
    key_c2c = stream_key(I[I_SEED], STREAM_C2C)
    noisy = S[S_DW_STD] > 0.0
    ideal = I[I_MODEL] == M_IDEAL
    for k in range(2 * n + 1):
        if k > 0 and not ideal:
            d = 1 if k <= n else -1
            for i in range(P):
                c = i
                dd = d
                if one_sided:
                    if d < 0:
                        c = P + i
                    dd = 1
                if D[R_STUCK, c] != 0.0:
                    continue
                xi = normal_from_bits(hash_sub(key_c2c, counter, c, k - 1)) if noisy else 0.0
                v = clip_to(pulse_step_call(I, D, S, T, c, w[c], dd, xi), D[R_B_MIN, c], D[R_B_MAX, c])
                w[c] = quantize_level(I, D, c, v)
        for i in range(P):
            out[k, i] = w[i] - w[P + i] if one_sided else w[i]
    return out


@jit
def symmetry_point(dev, n_cycles, counter, out):
    """Measure every device's symmetry point by alternating pulses, on a copy (``dev`` is
    not changed): from the stored weight fire n_cycles (up, down) pulse pairs with c2c noise
    at coordinates (counter, device, pulse) and write the mean weight over the second half
    of the pulses into ``out`` (n_cols,). Where |Δw⁺(w)| = |Δw⁻(w)| a pair leaves w where it
    is, so the train settles there (Gokmen & Haensch 2020; Kim et al. 2021, "Zero-shifting
    technique"). One-sided pairs only potentiate, so they have none: out = W there.
    Returns ``out``."""
    I, D, S, T, stats, W, WN, DREF, TPROG = dev
    ncols = I[I_NCOLS]
    key_c2c = stream_key(I[I_SEED], STREAM_C2C)
    noisy = S[S_DW_STD] > 0.0
    half = n_cycles  # pulses 2·n_cycles in all; average over the last n_cycles of them
    for c in range(ncols):
        w = W[c]
        if I[I_MODEL] == M_IDEAL or I[I_ONE_SIDED] != 0 or D[R_STUCK, c] != 0.0:
            out[c] = w
            continue
        acc = 0.0
        for k in range(2 * n_cycles):
            d = 1 if k % 2 == 0 else -1
            xi = normal_from_bits(hash_sub(key_c2c, counter, c, k)) if noisy else 0.0
            w = clip_to(pulse_step_call(I, D, S, T, c, w, d, xi), D[R_B_MIN, c], D[R_B_MAX, c])
            if k >= 2 * n_cycles - half:
                acc += w
        out[c] = acc / half if half > 0 else w
    return out


@jit
def dtod_normals(seed, param, out):
    """out[c] = N(0,1) draw of dtod parameter ``param`` for device column c (STREAM_DTOD)."""
    key = stream_key(seed, STREAM_DTOD)
    for c in range(out.shape[0]):
        out[c] = normal_from_bits(hash_keyed(key, param, c))
    return out


@jit
def dtod_uniforms(seed, param, out):
    """out[c] = U[0,1) draw of dtod parameter ``param`` for device column c (STREAM_DTOD)."""
    key = stream_key(seed, STREAM_DTOD)
    for c in range(out.shape[0]):
        out[c] = uniform01(hash_keyed(key, param, c))
    return out
