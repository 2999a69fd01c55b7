"""Built-in task datasets: XOR, N-bit parity and scikit-learn's bundled handwritten digits.

Every task yields inputs ``X`` (N, n_in) float64, one-hot or scalar targets ``Y``
(N, n_out) float64 and integer labels (N,). Digits are split into a stratified held-out test
set that training never sees. XOR and parity are complete truth tables: the task *is* the
table, so train and test are the same 2^bits patterns (there is nothing to hold out).
"""

from dataclasses import dataclass

import numpy as np

from hwsim.exceptions import ConfigError
from hwsim.tasks.prep import stratified_split


@dataclass(frozen=True)
class Dataset:
    """A task's arrays. Shapes: ``X_*`` (N, n_in), ``Y_*`` (N, n_out), ``labels_*`` (N,)."""

    name: str
    X_train: np.ndarray
    Y_train: np.ndarray
    labels_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray
    labels_test: np.ndarray
    held_out: bool = True  #: False for truth-table tasks, whose test set is the table itself
    #: Shape of one sample before flattening into a row of ``X_*``: (8, 8) for digits,
    #: (28, 28) for MNIST, (3, 32, 32) (channel-first) for CIFAR-10, (n_in,) for flat data.
    sample_shape: tuple = ()
    #: The files the arrays were read from, resolved (empty for built-in tasks).
    files: tuple = ()

    @property
    def n_in(self) -> int:
        """Number of inputs per sample."""
        return self.X_train.shape[1]

    @property
    def n_out(self) -> int:
        """Number of outputs per sample (1 for truth tables, 10 for digits)."""
        return self.Y_train.shape[1]


def _parity(bits: int) -> Dataset:
    n = 2**bits
    X = ((np.arange(n)[:, None] >> np.arange(bits - 1, -1, -1)) & 1).astype(np.float64)
    labels = (X.sum(axis=1) % 2).astype(np.int64)
    Y = labels[:, None].astype(np.float64)
    name = "xor" if bits == 2 else f"parity{bits}"
    return Dataset(name, X, Y, labels, X.copy(), Y.copy(), labels.copy(), held_out=False,
                   sample_shape=(bits,))


def digits_arrays():
    """scikit-learn's bundled 8×8 digits as hwsim uses them: ``(X, labels)``.

    Returns
    -------
    X : np.ndarray
        (1797, 64) float64, pixel intensities 0..16 scaled to [0, 1] (divided by 16).
    labels : np.ndarray
        (1797,) int64 in 0..9.
    """
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.data.astype(np.float64) / 16.0, data.target.astype(np.int64)


def _digits(test_fraction: float, seed: int) -> Dataset:
    X, labels = digits_arrays()
    X_tr, X_te, l_tr, l_te = stratified_split(X, labels, test_fraction, seed, "the digits set")
    eye = np.eye(10)
    return Dataset(
        "digits",
        np.ascontiguousarray(X_tr), eye[l_tr], l_tr,
        np.ascontiguousarray(X_te), eye[l_te], l_te, sample_shape=(8, 8),
    )


TASKS = ("xor", "parity", "digits")


def load_task(name: str, *, bits: int = 4, test_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """Build the dataset of a task.

    Parameters
    ----------
    name : {"xor", "parity", "digits"}
    bits : int
        Input bits of the parity task (2^bits patterns).
    test_fraction : float
        Held-out share of the digits set (stratified by class), in (0, 1).
    seed : int
        Seed of the digits split.

    Raises
    ------
    ConfigError
        Unknown task name.
    """
    if name == "xor":
        return _parity(2)
    if name == "parity":
        return _parity(bits)
    if name == "digits":
        return _digits(test_fraction, seed)
    raise ConfigError(f"task.name = {name!r}: unknown task; allowed: {', '.join(TASKS)}")
