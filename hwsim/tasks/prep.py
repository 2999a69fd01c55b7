"""Preparing a dataset's arrays: stratified splits and subsets, normalisation, targets.

Everything here is deterministic from the run's seed: the held-out split is scikit-learn's
stratified ``train_test_split`` with ``random_state = seed mod 2³²`` (the split of the
built-in digits task, so a digits ``.npz`` split here is the built-in split), and subsets
draw from NumPy's PCG64 seeded by ``SeedSequence([seed, SUBSET_KEY, part])``.
"""

import numpy as np

from hwsim.exceptions import ConfigError

__all__ = ["NORMALIZATIONS", "SUBSET_KEY", "stratified_split", "stratified_subset",
           "stratified_counts", "normalize", "targets"]

NORMALIZATIONS = ("none", "unit", "standard")

#: Second word of the subset generator's seed sequence (keeps it apart from other uses).
SUBSET_KEY = 0x5355_4253  # "SUBS"


def stratified_split(X, labels, test_fraction: float, seed: int, what: str):
    """Hold out a stratified share of the samples as the test set.

    Parameters
    ----------
    X : np.ndarray
        (N, ...) inputs.
    labels : np.ndarray
        (N,) int class labels.
    test_fraction : float
        Share held out, in (0, 1); the test set has ceil(test_fraction·N) samples.
    seed : int
        The run's seed (``random_state = seed mod 2³²``).
    what : str
        Names the data in errors (``"the digits set"``, a file name).

    Returns
    -------
    X_train, X_test, labels_train, labels_test : np.ndarray

    Raises
    ------
    ConfigError
        When a side would miss a class (naming ``task.test_fraction`` and the allowed
        range), or a class has a single sample.
    """
    from sklearn.model_selection import train_test_split

    n, k = len(labels), len(np.unique(labels))
    n_test = int(np.ceil(test_fraction * n))
    if not k <= n_test <= n - k:  # a stratified split needs every class on both sides
        raise ConfigError(f"task.test_fraction = {test_fraction}: {what} has {n} "
                          f"samples of {k} classes; allowed: {k / n:.4f} to {1 - k / n:.4f}")
    counts = np.bincount(labels)
    single = np.flatnonzero(counts == 1)
    if single.size:
        raise ConfigError(f"{what}: class {single[0]} has a single sample; a stratified "
                          "held-out split needs at least 2 per class (give test files instead)")
    return train_test_split(X, labels, test_size=test_fraction, stratify=labels,
                            random_state=seed % 2**32)


def stratified_counts(labels, n: int) -> np.ndarray:
    """How many samples of each class a stratified subset of ``n`` takes.

    Class k, holding c_k of the N samples, gets floor(n·c_k/N); the samples still missing go
    one each to the classes with the largest remainders n·c_k/N − floor(n·c_k/N), lowest
    class first on a tie (Hamilton's largest-remainder rule).

    Parameters
    ----------
    labels : np.ndarray
        (N,) int class labels.
    n : int
        Subset size, 0 < n <= N.

    Returns
    -------
    np.ndarray
        (max label + 1,) int64 counts summing to n.
    """
    counts = np.bincount(labels).astype(np.int64)
    N = int(counts.sum())
    exact = counts * n  # quotas n·c_k/N kept as integers: floor and remainder are exact
    take = exact // N
    rem = exact % N
    left = n - int(take.sum())
    order = np.lexsort((np.arange(len(counts)), -rem))  # largest remainder, then class index
    take[order[:left]] += 1
    return take


def stratified_subset(labels, n: int, seed: int, part: int) -> np.ndarray:
    """Indices of a stratified random subset of ``n`` samples, in their original order.

    Parameters
    ----------
    labels : np.ndarray
        (N,) int class labels.
    n : int
        Subset size, 0 < n <= N (see :func:`stratified_counts` for the per-class shares).
    seed : int
        The run's seed.
    part : int
        0 for the training set, 1 for the test set (independent draws).

    Returns
    -------
    np.ndarray
        (n,) sorted int64 indices.
    """
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, SUBSET_KEY, part])))
    take = stratified_counts(labels, n)
    chosen = [rng.permutation(np.flatnonzero(labels == k))[:t] for k, t in enumerate(take) if t]
    return np.sort(np.concatenate(chosen))


def normalize(X_train, X_test, how: str, what: str):
    """Scale inputs with statistics of the training set only.

    Parameters
    ----------
    X_train, X_test : np.ndarray
        (N, n_in) float64.
    how : {"none", "unit", "standard"}
        "none": as stored. "unit": (x − lo)/(hi − lo) with lo, hi the smallest and largest
        training value (one pair for all inputs; uint8 images with values 0..255 become
        x/255). "standard": per input, (x − mean)/std over the training set (population
        std; an input constant over the training set is only centred).
    what : str
        Names the data in errors.

    Returns
    -------
    (np.ndarray, np.ndarray)

    Raises
    ------
    ConfigError
        "unit" on training inputs that are all equal.
    """
    if how == "none":
        return X_train, X_test
    if how == "unit":
        lo, hi = X_train.min(), X_train.max()
        if not hi > lo:
            raise ConfigError(f"{what}: every training input equals {lo:g}; "
                              'task.normalize = "unit" needs at least two values')
        out = []
        for X in (X_train, X_test):  # two passes instead of temporaries: MNIST is 376 MB
            Z = X - lo
            Z /= hi - lo
            out.append(Z)
        return out[0], out[1]
    if how == "standard":
        mean = X_train.mean(axis=0)
        std = X_train.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        return (X_train - mean) / std, (X_test - mean) / std
    raise ConfigError(f"task.normalize = {how!r}: allowed: {', '.join(NORMALIZATIONS)}")


def targets(labels, n_out: int) -> np.ndarray:
    """Network targets of class labels: one-hot (N, n_out) rows, or (N, 1) 0/1 for one output.

    Parameters
    ----------
    labels : np.ndarray
        (N,) int, each in [0, n_out) (in {0, 1} when ``n_out`` is 1).
    n_out : int

    Returns
    -------
    np.ndarray
        (N, n_out) float64.
    """
    if n_out == 1:
        return labels[:, None].astype(np.float64)
    return np.eye(n_out)[labels]
