"""Sampling a device array: the kernel tuple of n weights with every per-device (dtod)
parameter drawn from the seed, as docs/devices.md specifies for each model.

Used by :class:`hwsim.chip.devices.array.DeviceArray`; every draw is a pure function of
(seed, parameter id, device column), so an array is the same whatever else ran before.
"""

from typing import Any

import numpy as np

from hwsim.kernels import devices as K

__all__ = ["MODEL_CODES", "build_device_tuple"]

#: Model name → kernel model code.
MODEL_CODES = {
    "Ideal": K.M_IDEAL, "ConstantStep": K.M_CONSTANT, "LinearStep": K.M_LINEAR,
    "SoftBounds": K.M_SOFT, "ExpStep": K.M_EXP, "PowStep": K.M_POW,
    "PiecewiseStep": K.M_PIECEWISE, "MeasuredLUT": K.M_LUT,
}

# dtod draw identifiers: the counter coordinate of STREAM_DTOD (index = device column).
# Values are part of every array's definition: never renumber.
(PID_GAIN, PID_UP_DOWN, PID_B_MAX, PID_B_MIN, PID_GAMMA_UP, PID_GAMMA_DOWN, PID_POW_GAMMA,
 PID_POW_UP_DOWN, PID_NU, PID_RESET, PID_LIFETIME, PID_CORRUPT, PID_CORRUPT_VALUE) = range(13)

def _safe_div(num, den):
    """num/den, 0 where den == 0 (a bound at 0 has no slope to scale)."""
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


def build_device_tuple(params: Any, model: str, n: int, seed: int, dtype: np.dtype) -> tuple:
    """Allocate the kernel tuple (:mod:`hwsim.kernels.device_layout`) of ``n`` weights and
    sample every per-device parameter (dtod) from STREAM_DTOD at the PID_* coordinates
    (docs/devices.md, "Common to every pulsed model")."""
    code = MODEL_CODES[model]
    if code == K.M_IDEAL:
        dev = K.empty_dev(n, n, 1, dtype)
        I, D = dev[0], dev[1]
        I[K.I_MODEL], I[K.I_P], I[K.I_NCOLS], I[K.I_SEED] = code, n, n, seed
        D[K.R_B_MAX], D[K.R_B_MIN], D[K.R_DECAY] = np.inf, -np.inf, 1.0
        return dev
    p = params
    one_sided = bool(p.one_sided)
    ncols = 2 * n if one_sided else n

    def xi(pid: int) -> np.ndarray:
        return K.dtod_normals(seed, pid, np.empty(ncols))

    def uni(pid: int) -> np.ndarray:
        return K.dtod_uniforms(seed, pid, np.empty(ncols))

    gain_xi = xi(PID_GAIN)
    g = np.exp(p.dw_min_dtod * gain_xi) if p.dw_min_dtod_log_normal else \
        1.0 + p.dw_min_dtod * gain_xi
    r = p.up_down_dtod * xi(PID_UP_DOWN)
    up = p.dw_min * (g + min(p.up_down, 0.0) + r)
    down = p.dw_min * (g - max(p.up_down, 0.0) - r)
    b_max = p.w_max * (1.0 + p.w_max_dtod * xi(PID_B_MAX))
    b_min = p.w_min * (1.0 + p.w_min_dtod * xi(PID_B_MIN))
    if p.enforce_consistency:
        up, down = np.abs(up), np.abs(down)
        crossed = b_max < b_min
        b_max, b_min = np.where(crossed, b_min, b_max), np.where(crossed, b_max, b_min)
        if one_sided:
            b_min = np.maximum(b_min, 0.0)
            b_max = np.maximum(b_max, b_min)
        else:
            b_max = np.maximum(b_max, 0.0)
            b_min = np.minimum(b_min, 0.0)
    g_max = np.maximum(np.abs(b_max), np.abs(b_min))

    gamma_up = np.zeros(ncols)
    gamma_down = np.zeros(ncols)
    if code == K.M_LINEAR:
        ref_up, ref_down = (p.w_max, p.w_min) if p.mean_bound_reference else (b_max, b_min)
        gamma_up = -_safe_div(np.abs(p.gamma_up + p.gamma_up_dtod * xi(PID_GAMMA_UP)), ref_up)
        gamma_down = -_safe_div(np.abs(p.gamma_down + p.gamma_down_dtod * xi(PID_GAMMA_DOWN)),
                                ref_down)
    elif code == K.M_SOFT:
        gamma_up = -_safe_div(1.0, b_max)
        gamma_down = -_safe_div(1.0, b_min)
    elif code == K.M_POW:
        h = 1.0 + p.pow_gamma_dtod * xi(PID_POW_GAMMA)
        q = p.pow_up_down_dtod * xi(PID_POW_UP_DOWN)
        gamma_up = np.maximum(p.pow_gamma * (h + min(p.pow_up_down, 0.0) + q), 0.0)
        gamma_down = np.maximum(p.pow_gamma * (h - max(p.pow_up_down, 0.0) - q), 0.0)

    nu_xi = xi(PID_NU)
    nu = np.maximum(p.drift_nu * (1.0 + p.drift_nu_dtod * nu_xi), 0.0)
    reset = np.clip(p.reset + p.reset_dtod * xi(PID_RESET), b_min, b_max)
    if p.lifetime > 0:
        life = np.maximum(p.lifetime * (1.0 + p.lifetime_dtod * xi(PID_LIFETIME)), 1.0)
        decay = 1.0 - 1.0 / life
    else:
        decay = np.ones(ncols)
    stuck = uni(PID_CORRUPT) < p.corrupt_devices_prob
    stuck_value = np.zeros(ncols)
    if stuck.any():
        v = p.dw_min * p.corrupt_devices_range * (2.0 * uni(PID_CORRUPT_VALUE) - 1.0)
        v = np.clip(v, b_min, b_max)
        stuck_value = np.where(stuck, v, 0.0)
        b_max = np.where(stuck, v, b_max)
        b_min = np.where(stuck, v, b_min)
        reset = np.where(stuck, v, reset)

    if code == K.M_PIECEWISE:
        table = np.array([p.piecewise_up, p.piecewise_down, p.piecewise_up], dtype=np.float64)
    elif code == K.M_LUT:
        table = np.array([p.lut_w, np.abs(p.lut_dw_up) / p.dw_min,
                          np.abs(p.lut_dw_down) / p.dw_min], dtype=np.float64)
    else:
        table = np.zeros((3, 1))
    dev = K.empty_dev(n, ncols, table.shape[1], dtype)
    I, D, S, T = dev[:4]
    T[:] = table
    rows = {K.R_DW_UP: up, K.R_DW_DOWN: down, K.R_B_MAX: b_max, K.R_B_MIN: b_min,
            K.R_GAMMA_UP: gamma_up, K.R_GAMMA_DOWN: gamma_down, K.R_NU: nu, K.R_NU_XI: nu_xi,
            K.R_RESET: reset, K.R_DECAY: decay, K.R_STUCK: stuck.astype(np.float64),
            K.R_STUCK_VALUE: stuck_value, K.R_G_MAX: g_max}
    for row, values in rows.items():
        D[row] = values
    S[K.S_DW_MIN] = p.dw_min
    S[K.S_DW_STD] = p.dw_min_std
    S[K.S_WRITE_STD] = p.write_noise_std * p.dw_min
    S[K.S_READ_STD] = p.read_noise_std
    S[K.S_READ_SCALE] = p.read_noise_scale
    S[K.S_T0] = p.drift_t0
    S[K.S_T_READ] = K.PCM_T_READ
    S[K.S_RESET_STD] = p.reset_std
    if code == K.M_EXP:
        S[K.S_A_UP], S[K.S_A_DOWN] = p.A_up, p.A_down
        S[K.S_EXP_GAMMA_UP], S[K.S_EXP_GAMMA_DOWN] = p.gamma_up, p.gamma_down
        S[K.S_EXP_A], S[K.S_EXP_B] = p.a, p.b
        S[K.S_STD_ADD], S[K.S_STD_SLOPE] = p.dw_min_std_add, p.dw_min_std_slope
    I[K.I_MODEL] = code
    I[K.I_P] = n
    I[K.I_NCOLS] = ncols
    I[K.I_N_STATES] = p.n_states
    I[K.I_ROUNDING] = K.ROUND_STOCHASTIC if p.pulse_rounding == "stochastic" else \
        K.ROUND_NEAREST
    I[K.I_MAX_PULSES] = p.max_pulses
    I[K.I_ONE_SIDED] = int(one_sided)
    I[K.I_REFRESH_EVERY] = p.refresh_every
    I[K.I_REFRESH_ITERS] = p.refresh_iterations
    I[K.I_SEED] = seed
    I[K.I_MULT_NOISE] = int(getattr(p, "mult_noise", True))
    I[K.I_COMPLEX_NOISE] = int(code == K.M_EXP and (p.dw_min_std_add > 0
                                                    or p.dw_min_std_slope > 0))
    I[K.I_READ_NOISE] = {"none": K.READ_NONE, "additive": K.READ_ADDITIVE,
                         "pcm": K.READ_PCM}[p.read_noise]
    I[K.I_READ_FROZEN] = int(p.read_noise_frozen_per_step)
    I[K.I_DRIFT] = {"none": K.DRIFT_NONE, "power": K.DRIFT_POWER, "pcm": K.DRIFT_PCM}[p.drift]
    I[K.I_DECAY] = int(p.lifetime > 0)
    I[K.I_TABLE_N] = table.shape[1]
    return dev
