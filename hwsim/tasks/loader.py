"""The dataset of a run's ``[task]`` section: a built-in task or dataset files."""

import dataclasses

from hwsim.exceptions import ConfigError
from hwsim.tasks.datasets import Dataset, load_task
from hwsim.tasks.files import FILE_TASKS, load_file_task
from hwsim.tasks.prep import stratified_subset

__all__ = ["load_dataset"]


def load_dataset(task, *, seed: int, sizes) -> Dataset:
    """Build the dataset a ``[task]`` section describes.

    Parameters
    ----------
    task : hwsim.config.TaskConfig
    seed : int
        The run's seed (held-out split and subsets).
    sizes : sequence of int
        ``network.sizes``, checked against data files (built-in tasks are checked when the
        chip is built).

    Returns
    -------
    Dataset

    Raises
    ------
    ConfigError
        As :func:`hwsim.tasks.datasets.load_task` and
        :func:`hwsim.tasks.files.load_file_task`.
    """
    if task.name in FILE_TASKS:
        return load_file_task(task, seed=seed, sizes=sizes)
    ds = load_task(task.name, bits=task.bits, test_fraction=task.test_fraction, seed=seed)
    if task.n_train == 0 and task.n_test == 0:
        return ds
    parts = {}
    for part, (key, n, X, Y, y) in enumerate((
            ("n_train", task.n_train, ds.X_train, ds.Y_train, ds.labels_train),
            ("n_test", task.n_test, ds.X_test, ds.Y_test, ds.labels_test))):
        if n > len(y):
            raise ConfigError(f"task.{key} = {n}: the {task.name} "
                              f"{'training' if part == 0 else 'test'} set holds only {len(y)} "
                              "samples")
        keep = stratified_subset(y, n, seed, part) if n else slice(None)
        parts[part] = (X[keep], Y[keep], y[keep])
    (X_tr, Y_tr, l_tr), (X_te, Y_te, l_te) = parts[0], parts[1]
    return dataclasses.replace(ds, X_train=X_tr, Y_train=Y_tr, labels_train=l_tr,
                               X_test=X_te, Y_test=Y_te, labels_test=l_te)
