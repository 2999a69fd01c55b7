"""The device tuple's layout: model codes, settings, per-device rows, scalars, counters.

``dev = (I, D, S, T, stats, W, WN, DREF, TPROG)``, documented in :mod:`hwsim.kernels.devices`
(the kernels that use it); never renumber an index: they are stored in checkpoints.
"""

import numpy as np

# Model codes (names in hwsim.chip.devices.REGISTRY). Never renumber: stored in checkpoints.
M_IDEAL, M_CONSTANT, M_LINEAR, M_SOFT, M_EXP, M_POW, M_PIECEWISE, M_LUT = range(8)

# I: int64 settings.
(I_MODEL, I_P, I_NCOLS, I_N_STATES, I_ROUNDING, I_MAX_PULSES, I_ONE_SIDED, I_REFRESH_EVERY,
 I_REFRESH_ITERS, I_SEED, I_MULT_NOISE, I_COMPLEX_NOISE, I_READ_NOISE, I_READ_FROZEN, I_DRIFT,
 I_DECAY, I_TABLE_N) = range(17)
N_I = 17
ROUND_NEAREST, ROUND_STOCHASTIC = 0, 1
READ_NONE, READ_ADDITIVE, READ_PCM = 0, 1, 2
DRIFT_NONE, DRIFT_POWER, DRIFT_PCM = 0, 1, 2

# D: per-device rows (dtod samples). R_GAMMA_*: LinearStep/SoftBounds slopes γ^d_ij, or
# PowStep exponents γ^±_ij. R_NU: power-law drift exponent; R_NU_XI: the device's N(0,1)
# draw scaling the PCM ν spread. R_DECAY: per-update decay factor 1 - 1/lifetime_ij (1 = none).
# R_G_MAX: conductance scale of PCM read noise and drift, max(|b_max|, |b_min|).
# R_REF: the symmetry-point reference subtracted from weight i's device (two-sided devices;
# 0 = none): the network sees W − R_REF (Kim et al. 2019, zero-shifting).
(R_DW_UP, R_DW_DOWN, R_B_MAX, R_B_MIN, R_GAMMA_UP, R_GAMMA_DOWN, R_NU, R_NU_XI, R_RESET,
 R_DECAY, R_STUCK, R_STUCK_VALUE, R_G_MAX, R_REF) = range(14)
N_ROWS = 14
ROW_NAMES = ("dw_up", "dw_down", "b_max", "b_min", "gamma_up", "gamma_down", "nu", "nu_xi",
             "reset", "decay", "stuck", "stuck_value", "g_max", "reference")

# S: model-wide scalars. S_WRITE_STD is absolute (write_noise_std * dw_min).
(S_TIME, S_DW_MIN, S_DW_STD, S_WRITE_STD, S_STD_ADD, S_STD_SLOPE, S_A_UP, S_A_DOWN,
 S_EXP_GAMMA_UP, S_EXP_GAMMA_DOWN, S_EXP_A, S_EXP_B, S_READ_STD, S_READ_SCALE, S_T0, S_T_READ,
 S_RESET_STD) = range(17)
N_S = 17

# stats: int64 counters. ST_PULSES counts training pulses (apply_update); refresh and program
# pulses are counted separately. ST_CLIPPED counts device writes in which a pulse hit a bound.
(ST_PULSES, ST_CLIPPED, ST_REFRESHES, ST_UPDATES, ST_INIT_CLIPPED, ST_PROGRAM_CLIPPED,
 ST_PROGRAMS, ST_CAPPED, ST_NONFINITE, ST_REFRESH_PULSES, ST_PROGRAM_PULSES, ST_PULSES_UP,
 ST_PULSES_DOWN, ST_DEVICE_WRITES, ST_RANGE_CAPPED, ST_REFERENCE_PULSES) = range(16)
N_STATS = 16
STAT_NAMES = ("pulses", "clipped_writes", "refreshes", "updates", "init_clipped",
              "program_clipped", "programs", "capped_updates", "nonfinite_requests",
              "refresh_pulses", "program_pulses", "pulses_up", "pulses_down", "device_writes",
              "range_capped_writes", "reference_pulses")

# Counter ranges outside any update index (updates use counter = update index >= 0).
INIT_COUNTER = (1 << 62) - 1
REFERENCE_COUNTER = (1 << 62) - 2  # the symmetry-point measurement of a reference
PROGRAM_COUNTER = 1 << 62
SUB_RESET = 1 << 48  # sub-coordinates of a refresh: reset draw, then its pulses

MAX_PULSES_PER_REQUEST = float(1 << 53)  # a larger pulse count is not an exact float




PCM_T_READ = 250e-9  # s, read duration of the PCM 1/f read-noise law (Joshi et al. 2020)


def empty_dev(n_weights, n_cols, table_len, dtype):
    """Allocate a zeroed device tuple (Python helper for the wrapper; not a kernel)."""
    dtype = np.dtype(dtype)
    return (np.zeros(N_I, np.int64), np.zeros((N_ROWS, n_cols), dtype), np.zeros(N_S, dtype),
            np.zeros((3, max(table_len, 1)), dtype), np.zeros(N_STATS, np.int64),
            np.zeros(n_cols, dtype), np.zeros(n_weights, dtype), np.zeros(n_cols, dtype),
            np.zeros(n_cols, dtype))
