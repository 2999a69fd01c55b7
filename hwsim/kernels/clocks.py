"""Stage 1, clocks and data order: which sample (or minibatch) is presented, and when codes and
updates fall due.

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

#: Clock parameters: periods in steps, the number of training samples, the master seed, the
#: step duration ``dt`` in seconds and ``batch``, the samples B presented together every τx
#: steps (minibatch costs; 1 = one sample).
ClockParams = namedtuple("ClockParams", "tau_p tau_x tau_theta n_samples seed dt batch",
                         defaults=(np.int64(1),))

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


@jit
def fill_batch(order, batch, clock, seed, k, n_samples):
    """The B = len(batch) sample indices of presentation ``k`` into ``batch``.

    Presentation k takes the draws k·B … k·B + B − 1 of the endless sequence of per-epoch
    permutations (epoch e = draw // N, position draw mod N), so a batch may straddle two
    epochs, every sample is presented once per epoch, and B = 1 gives the one-sample order.
    The permutation is rebuilt in ``order`` when its epoch changes; ``clock[0].sample`` is set
    to the batch's first sample. Depends only on (seed, k), so a call can start anywhere.
    """
    B = batch.shape[0]
    clk = clock[0]
    d = k * B
    epoch = d // n_samples
    pos = d - epoch * n_samples
    for b in range(B):
        if clk.order_epoch != epoch:
            shuffle_order(order, seed, epoch)
            clk.order_epoch = epoch
        batch[b] = order[pos]
        pos += 1
        if pos == n_samples:
            pos = 0
            epoch += 1
    clk.sample = batch[0]
