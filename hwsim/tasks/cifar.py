"""CIFAR-10 binary batches (``data_batch_1.bin`` … ``data_batch_5.bin``, ``test_batch.bin``).

The binary version of CIFAR-10 (Krizhevsky 2009, www.cs.toronto.edu/~kriz/cifar.html,
"CIFAR-10 binary version"): records of 3073 bytes, one label byte (0-9) then 3072 pixel
bytes, the 1024 red, 1024 green and 1024 blue values of a 32×32 image in row-major order.
So an image is stored channel-first, shape (3, 32, 32).
"""

import numpy as np

from hwsim.tasks.fileio import file_error, read_bytes

__all__ = ["CIFAR_RECORD", "CIFAR_SHAPE", "CIFAR_CLASSES", "read_cifar10"]

CIFAR_SHAPE = (3, 32, 32)  #: one image, channel-first
CIFAR_RECORD = 1 + 3 * 32 * 32  #: bytes per record: label, then pixels
CIFAR_CLASSES = 10


def read_cifar10(paths):
    """Read and concatenate CIFAR-10 binary batch files (gzipped or not).

    Parameters
    ----------
    paths : sequence of path
        One or more batch files, read in the order given.

    Returns
    -------
    X : np.ndarray
        (N, 3, 32, 32) uint8, channel-first.
    y : np.ndarray
        (N,) int64 in 0..9.

    Raises
    ------
    ConfigError
        Naming the file: empty, a size that is not a whole number of 3073-byte records
        (truncated), or a label byte above 9 (not CIFAR-10: CIFAR-100 has two label bytes).
    """
    Xs, ys = [], []
    for path in paths:
        data = read_bytes(path)
        if len(data) == 0 or len(data) % CIFAR_RECORD:
            raise file_error(path, f"{len(data)} bytes is not a whole number of CIFAR-10 "
                             f"records of {CIFAR_RECORD} bytes (1 label + 3072 pixels): "
                             "truncated, or not a CIFAR-10 binary batch")
        rec = np.frombuffer(data, np.uint8).reshape(-1, CIFAR_RECORD)
        bad = np.flatnonzero(rec[:, 0] >= CIFAR_CLASSES)
        if bad.size:
            raise file_error(path, f"record {bad[0]} has label {rec[bad[0], 0]}; CIFAR-10 "
                             "labels are 0-9 (a CIFAR-100 batch, or not a CIFAR-10 binary file)")
        Xs.append(rec[:, 1:].reshape(-1, *CIFAR_SHAPE))
        ys.append(rec[:, 0].astype(np.int64))
    return np.concatenate(Xs), np.concatenate(ys)
