"""Stage 1, clocks and data order: which sample is presented, and when codes and updates fall due.

Every clock is a whole number of hardware steps (mgd.md, "Notation"): a new input every
``tau_x`` steps, a new code value every ``tau_p``, a weight update every ``tau_theta``
(discrete mode). Hardware time is ``step * dt`` from the integer step, never a float sum
(field case E2). The data order is a Fisher–Yates permutation per epoch from the counter hash
(stream ``data_order``), so it is derived state: never stored, rebuilt on demand.
"""

from collections import namedtuple

import numpy as np

from hwsim.kernels._config import jit
from hwsim.kernels.hashing import STREAM_DATA_ORDER, hash_keyed, stream_key, uniform01

#: Clock parameters: periods in steps, the number of training samples, the master seed and
#: the step duration ``dt`` in seconds.
ClockParams = namedtuple("ClockParams", "tau_p tau_x tau_theta n_samples seed dt")

#: Clock state (one record): the step about to run, the sample presented, the epoch whose
#: permutation ``order`` holds (-1: none, derived), and the weight updates applied so far.
CLOCK_STATE = np.dtype([("step", np.int64), ("sample", np.int64), ("order_epoch", np.int64),
                        ("updates", np.int64)])


def clock_state() -> np.ndarray:
    """A fresh clock record (shape (1,)) at step 0 with no data order built."""
    s = np.zeros(1, CLOCK_STATE)
    s[0]["order_epoch"] = -1
    return s


@jit
def shuffle_order(order, seed, epoch):
    """Fisher-Yates permutation of 0..N-1 for ``epoch``, from the counter hash (thread-free)."""
    n = order.shape[0]
    key = stream_key(seed, STREAM_DATA_ORDER)
    for i in range(n):
        order[i] = i
    for i in range(n - 1, 0, -1):
        j = int(uniform01(hash_keyed(key, epoch, i)) * (i + 1))
        t = order[i]
        order[i] = order[j]
        order[j] = t
