"""The ``[task]`` config section: what the network learns (built-in tasks or dataset files).

Registered in :class:`hwsim.config.RunConfig`; the loaders are :mod:`hwsim.tasks`.
"""

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from hwsim._schema import Schema, fmt, option

__all__ = ["TaskConfig", "FILE_TASKS", "BUILTIN_TASKS", "TASK_PATH_KEYS"]


#: Tasks read from dataset files (hwsim.tasks.files), and the built-in ones.
FILE_TASKS = ("mnist", "fashion_mnist", "cifar10", "files")
BUILTIN_TASKS = ("xor", "parity", "digits")
#: The [task] keys holding paths (relative ones are read from task.root).
TASK_PATH_KEYS = ("path", "train", "test")


@dataclass(frozen=True)
class TaskConfig(Schema, section="task"):
    """What the network learns: a built-in task, or dataset files (nothing is downloaded;
    the README says where to get MNIST, Fashion-MNIST and CIFAR-10). Images are flattened
    into rows of `network.sizes[0]` inputs (28·28 = 784 for MNIST, 3·32·32 = 3072 for
    CIFAR-10, channel-first). Rules: `path` only with `name` = `"mnist"`,
    `"fashion_mnist"` or `"cifar10"` (and needed there when the data are loaded); `train`
    (needed then) and `test` only with `name = "files"`; `n_train`, `n_test` not with xor
    or parity."""

    name: str = option("digits", 'Task to learn: a built-in task ("xor", "parity", "digits"), '
                       'the standard files of "mnist", "fashion_mnist" (IDX) or "cifar10" '
                       '(binary batches) in folder `path`, or "files": the files `train` and '
                       "`test`.", choices=BUILTIN_TASKS + FILE_TASKS)
    bits: int = option(4, "Input bits of the parity task (parity only).", unit="bits", ge=1, le=20)
    test_fraction: float = option(
        0.25, "Share of samples held out for testing, stratified by class (digits, and "
        '"files" without `test`; the split of digits, so a digits .npz gives the built-in '
        "split).", gt=0.0, lt=1.0)
    path: str = option("", 'Folder holding the standard files: for "mnist" and '
                       '"fashion_mnist" train-images-idx3-ubyte, train-labels-idx1-ubyte, '
                       "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte; for \"cifar10\" "
                       "data_batch_1.bin … data_batch_5.bin, test_batch.bin (or its "
                       "cifar-10-batches-bin subfolder); each may be gzipped (.gz).")
    train: tuple[str, ...] = option(
        (), 'Training files of name = "files", concatenated; the format from the name '
        "(each may end in .gz): .npz with arrays X (N, …) and y (N,); .csv with a header "
        "row and the `label` column; .bin CIFAR-10 batches; IDX pairs, an images file "
        "(name holding idx3) then its labels file (idx1).")
    test: tuple[str, ...] = option(
        (), 'Test files of name = "files", like `train`; empty: a stratified '
        "`test_fraction` of `train` is held out.")
    root: str = option("", "Folder that relative `path`, `train` and `test` are read from. "
                       "Set by the loader to the config file's folder (relative paths from "
                       "`--set` are made absolute against the working folder instead); "
                       "empty = the working folder when the config is built. A run folder's "
                       "config.toml keeps the paths as given plus this folder, so a resume "
                       "finds the same files.")
    label: str = option("label", "Header name of the label column of .csv files.")
    normalize: str = option(
        "unit", 'Input scaling of data files, from training-set statistics: "none" as '
        'stored; "unit" (x − min)/(max − min) over all training inputs (0..255 pixels '
        '→ x/255); "standard" per input (x − mean)/std. Built-in tasks come scaled.',
        choices=("none", "unit", "standard"))
    n_train: int = option(0, "Train on a stratified random subset of this many training "
                          "samples (from the seed); 0 = all.", unit="samples", ge=0)
    n_test: int = option(0, "Evaluate on a stratified random subset of this many test "
                         "samples (from the seed); 0 = all.", unit="samples", ge=0)

    def _resolve(self, fail: Callable[..., NoReturn]) -> "TaskConfig":
        # An empty task.path (mnist, ...) or task.train (files) is reported when the data
        # are loaded, so that task.name can be switched by one override.
        standard = self.name in FILE_TASKS and self.name != "files"
        if self.path and not standard:
            fail("path", 'is only used with task.name = "mnist", "fashion_mnist" or '
                 '"cifar10"; for your own files use task.name = "files" with task.train',
                 "name")
        for key in ("train", "test"):
            if getattr(self, key) and self.name != "files":
                fail(key, 'is only used with task.name = "files"', "name")
        if self.name in ("xor", "parity"):
            for key in ("n_train", "n_test"):
                if getattr(self, key):
                    fail(key, f"must be 0 for task.name = {fmt(self.name)} (a truth table "
                         "has no subsets)", "name")
        if self.root and not Path(self.root).is_absolute():
            return dataclasses.replace(self, root=os.path.abspath(self.root))
        paths = [self.path, *self.train, *self.test]
        if not self.root and any(p and not Path(p).is_absolute() for p in paths):
            # Fix the folder now, so the recorded config names the same files from anywhere.
            return dataclasses.replace(self, root=os.getcwd())
        return self
