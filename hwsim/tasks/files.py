"""Dataset files as a task: the standard MNIST / Fashion-MNIST / CIFAR-10 files, or any files.

``[task] name = "mnist" | "fashion_mnist"`` with ``path = DIR`` reads the four standard IDX
files from DIR (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each also as ``.gz`` or with a
``.`` for the last ``-``, as some mirrors spell them); ``name = "cifar10"`` reads
``data_batch_1.bin`` … ``data_batch_5.bin`` and ``test_batch.bin`` from DIR or its
``cifar-10-batches-bin`` subfolder. ``name = "files"`` takes ``train`` (and optionally
``test``) lists of files whose format is told by the name (:func:`file_format`). Relative
paths are read from ``task.root`` (the config file's folder). Nothing is downloaded.

The files' own test split is used when there is one; otherwise a stratified share
``task.test_fraction`` is held out, exactly as for the built-in digits task.
"""

import hashlib
import os
from pathlib import Path

import numpy as np

from hwsim.exceptions import ConfigError
from hwsim.tasks.cifar import read_cifar10
from hwsim.tasks.datasets import Dataset
from hwsim.tasks.fileio import file_error
from hwsim.tasks.idx import read_idx_pair
from hwsim.tasks.prep import normalize, stratified_split, stratified_subset, targets
from hwsim.tasks.tabular import read_csv, read_npz

__all__ = ["FILE_TASKS", "STANDARD_FILES", "file_format", "standard_files", "resolve_path",
           "read_dataset_files", "load_file_task", "describe_dataset", "changed_files"]

FILE_TASKS = ("mnist", "fashion_mnist", "cifar10", "files")

_IDX = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
#: Standard file names per task and split (each also found gzipped).
STANDARD_FILES = {
    "mnist": _IDX,
    "fashion_mnist": _IDX,
    "cifar10": {"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
                "test": ("test_batch.bin",)},
}
_CIFAR_SUBFOLDER = "cifar-10-batches-bin"  # what the official tarball extracts to

#: Where each task's files can be obtained (shown when they are missing).
SOURCES = {
    "mnist": "https://yann.lecun.com/exdb/mnist/ (or any MNIST mirror)",
    "fashion_mnist": "https://github.com/zalandoresearch/fashion-mnist (data/fashion)",
    "cifar10": "https://www.cs.toronto.edu/~kriz/cifar.html (the binary version, "
               "cifar-10-binary.tar.gz)",
}


def _where(root: str) -> str:
    if not root:  # no config file (a --set path, or a config built in Python)
        return f"relative paths are read from the working folder {Path.cwd()}"
    return (f"relative paths are read from task.root = {root}, normally the config file's "
            "folder")


def resolve_path(given: str, root: str) -> Path:
    """A dataset path as given in the config, made absolute against ``root``.

    Parameters
    ----------
    given : str
    root : str
        ``task.root``; empty means the working folder.

    Returns
    -------
    pathlib.Path
    """
    p = Path(given)
    return p if p.is_absolute() else Path(root or os.getcwd()) / p


def standard_files(name: str, path: str, root: str):
    """The standard files of task ``name`` in folder ``path``: ``(train, test)`` path lists.

    Parameters
    ----------
    name : {"mnist", "fashion_mnist", "cifar10"}
    path : str
        ``task.path``, as given.
    root : str
        ``task.root``.

    Returns
    -------
    (list of Path, list of Path)

    Raises
    ------
    ConfigError
        ``path`` is not a folder, or a file is missing: naming the file, the folder(s)
        searched, how relative paths are resolved and where to get the files.
    """
    folder = resolve_path(path, root)
    if not folder.is_dir():
        raise ConfigError(f"task.path = {path!r}: folder not found: looked for {folder} "
                          f"({_where(root)})")
    folders = [folder] + ([folder / _CIFAR_SUBFOLDER] if name == "cifar10" else [])
    found = {}
    for split, names in STANDARD_FILES[name].items():
        found[split] = []
        for base in names:
            spellings = [base]
            if "-idx" in base:
                spellings.append(base.replace("-idx", ".idx"))
            cands = [d / (s + gz) for d in folders for s in spellings for gz in ("", ".gz")]
            hit = next((c for c in cands if c.is_file()), None)
            if hit is None:
                looked = " and ".join(str(d) for d in folders)
                raise ConfigError(
                    f"task.path = {path!r}: {base} (or {base}.gz) not found in {looked} "
                    f"({_where(root)}); task.name = {name!r} needs the files "
                    f"{', '.join(n for ns in STANDARD_FILES[name].values() for n in ns)}, "
                    f"from {SOURCES[name]}; nothing is downloaded")
            found[split].append(hit)
    return found["train"], found["test"]


def file_format(path) -> str:
    """The format of a dataset file, told by its name (a trailing ``.gz`` is ignored).

    ``.npz`` → "npz"; ``.csv`` → "csv"; ``.bin`` → "cifar10" (binary batches); a name
    holding ``idx3`` → "idx_images" and ``idx1`` → "idx_labels" (IDX, as MNIST names them).

    Raises
    ------
    ConfigError
        Any other name, listing the recognised ones.
    """
    name = Path(path).name.lower().removesuffix(".gz")
    if name.endswith(".npz"):
        return "npz"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".bin"):
        return "cifar10"
    if "idx3" in name:
        return "idx_images"
    if "idx1" in name:
        return "idx_labels"
    raise file_error(path, "unknown dataset format; recognised names end in .npz (arrays X, "
                     "y), .csv (header row, task.label column), .bin (CIFAR-10 batches), or "
                     "hold idx3 / idx1 (IDX images / labels files), each optionally + .gz")


def read_dataset_files(paths, label: str = "label"):
    """Read one split's files, all of one format, concatenated in the order given.

    IDX files come as images/labels pairs: the k-th images (idx3) file goes with the k-th
    labels (idx1) file.

    Parameters
    ----------
    paths : sequence of path
        Existing files (see :func:`file_format`).
    label : str
        The CSV label column (``task.label``).

    Returns
    -------
    X : np.ndarray
        (N, ...) as stored (the sample shape kept).
    y : np.ndarray
        (N,) int64.

    Raises
    ------
    ConfigError
        Mixed formats, unpaired IDX files, samples of different shapes across files, or any
        reader's error (naming the file).
    """
    paths = list(paths)
    fmts = [file_format(p) for p in paths]
    kinds = {"idx" if f.startswith("idx") else f for f in fmts}
    if len(kinds) != 1:
        raise file_error(paths[0], f"one split mixes file formats ({', '.join(sorted(kinds))}); "
                         "give files of one format")
    kind = kinds.pop()
    if kind == "cifar10":
        return read_cifar10(paths)
    if kind == "idx":
        images = [p for p, f in zip(paths, fmts) if f == "idx_images"]
        labels = [p for p, f in zip(paths, fmts) if f == "idx_labels"]
        if len(images) != len(labels):
            raise file_error(paths[0], f"IDX files come in pairs (an idx3 images file and its "
                             f"idx1 labels file); got {len(images)} images and {len(labels)} "
                             "labels files")
        parts = [read_idx_pair(i, l) for i, l in zip(images, labels)]
    elif kind == "npz":
        parts = [read_npz(p) for p in paths]
    else:
        parts = [read_csv(p, label) for p in paths]
    for (X, _), p in zip(parts[1:], paths[1:]):
        if X.shape[1:] != parts[0][0].shape[1:]:
            raise file_error(p, f"samples of shape {X.shape[1:]}, but {paths[0]} holds "
                             f"samples of shape {parts[0][0].shape[1:]}")
    return (np.concatenate([X for X, _ in parts]), np.concatenate([y for _, y in parts]))


def _check_fits(X, y, sizes, shape, source):
    """Input width vs network.sizes[0], classes vs network.sizes[-1], finite inputs."""
    n_in, n_out = int(sizes[0]), int(sizes[-1])
    names = getattr(sizes, "names", None)  # a layer network: input_shape, the last layer
    if X.shape[1] != n_in:
        how = f" ({'×'.join(map(str, shape))}, flattened)" if len(shape) > 1 else ""
        fix = (f"network.sizes starts with {n_in}: set network.sizes = [{X.shape[1]}, ..., "
               f"{n_out}]" if names is None else
               f"{names[0]} gives {n_in}: set network.input_shape to the samples' shape "
               f"{list(shape)}")
        raise file_error(source, f"samples have {X.shape[1]} inputs{how}, but {fix}")
    top = int(y.max()) if y.size else 0
    if (n_out == 1 and top > 1) or (n_out > 1 and top >= n_out):
        need = "2 classes (labels 0 and 1)" if n_out == 1 else f"{n_out} classes (labels 0 to {n_out - 1})"
        fix = (f"network.sizes ends with {n_out} output{'s' * (n_out != 1)}, for {need}: set "
               f"network.sizes = [{n_in}, ..., {top + 1}]" if names is None else
               f"{names[1]} = {n_out}, for {need}: set it to {top + 1}")
        raise file_error(source, f"labels go up to {top} ({top + 1} classes), but {fix}")
    if not np.isfinite(X).all():
        raise file_error(source, "inputs hold NaN or Inf; clean the data first")


def _subset(X, y, n, seed, part, key, source):
    if n == 0:
        return X, y
    if n > len(y):
        raise ConfigError(f"task.{key} = {n}: {source} holds only {len(y)} samples")
    keep = stratified_subset(y, n, seed, part)
    return X[keep], y[keep]


def load_file_task(task, *, seed: int, sizes) -> Dataset:
    """Build a dataset from files as a ``[task]`` section says.

    Order of work: read (the files' test split, else a stratified held-out split with
    ``test_fraction``), stratified subsets ``n_train`` / ``n_test`` (0 = all), flatten
    each sample, convert to float64, normalise with training statistics, targets.

    Parameters
    ----------
    task : hwsim.config.TaskConfig
        ``name`` in :data:`FILE_TASKS`, with ``path`` or ``train``/``test``, ``root``,
        ``label``, ``normalize``, ``n_train``, ``n_test``, ``test_fraction``.
    seed : int
        The run's seed (held-out split and subsets).
    sizes : sequence of int
        ``network.sizes``: the data must have ``sizes[0]`` inputs and labels below
        ``sizes[-1]`` (0/1 for one output).

    Returns
    -------
    Dataset
        ``X_*`` (N, prod(sample_shape)) float64, ``Y_*`` one-hot (N, sizes[-1]),
        ``sample_shape`` the stored shape of one sample, ``files`` the paths read.

    Raises
    ------
    ConfigError
        A missing file (naming where it looked), a malformed file, data that do not fit the
        network (naming the file), or subsets larger than the data.
    """
    if task.name == "files" and not task.train:
        raise ConfigError('task.train = []: task.name = "files" needs at least one training '
                          "file (and optionally task.test)")
    if task.name != "files" and not task.path:
        raise ConfigError(f'task.path = "": task.name = "{task.name}" needs the folder '
                          f"holding its files ({SOURCES[task.name]}; nothing is downloaded)")
    if task.name == "files":
        train = [_existing(p, f"task.train[{i}]", task.root) for i, p in enumerate(task.train)]
        test = [_existing(p, f"task.test[{i}]", task.root) for i, p in enumerate(task.test)]
    else:
        train, test = standard_files(task.name, task.path, task.root)
    X_tr, y_tr = read_dataset_files(train, task.label)
    shape = tuple(int(d) for d in X_tr.shape[1:])
    X_tr = X_tr.reshape(len(X_tr), -1)
    _check_fits(X_tr, y_tr, sizes, shape, train[0])
    if test:
        X_te, y_te = read_dataset_files(test, task.label)
        if X_te.shape[1:] != shape:
            raise file_error(test[0], f"test samples of shape {X_te.shape[1:]}, but the "
                             f"training samples ({train[0]}) have shape {shape}")
        X_te = X_te.reshape(len(X_te), -1)
        _check_fits(X_te, y_te, sizes, shape, test[0])
    else:
        X_tr, X_te, y_tr, y_te = stratified_split(X_tr, y_tr, task.test_fraction, seed,
                                                  str(train[0]))
    X_tr, y_tr = _subset(X_tr, y_tr, task.n_train, seed, 0, "n_train", "the training set")
    X_te, y_te = _subset(X_te, y_te, task.n_test, seed, 1, "n_test", "the test set")
    X_tr, X_te = normalize(X_tr.astype(np.float64), X_te.astype(np.float64), task.normalize,
                           str(train[0]))
    n_out = int(sizes[-1])
    return Dataset(task.name, np.ascontiguousarray(X_tr), targets(y_tr, n_out), y_tr,
                   np.ascontiguousarray(X_te), targets(y_te, n_out), y_te,
                   sample_shape=shape, files=tuple(str(p) for p in [*train, *test]))


def _existing(given: str, key: str, root: str) -> Path:
    p = resolve_path(given, root)
    if not p.is_file():
        what = "is a folder, not a file" if p.is_dir() else "file not found"
        where = "" if Path(given).is_absolute() else f" ({_where(root)})"  # --set: absolute
        raise ConfigError(f"{key} = {given!r}: {what}: looked for {p}{where}")
    return p


def describe_dataset(ds: Dataset) -> dict:
    """What a run trained on, for summary.json: name, sizes, sample shape and each file
    with its SHA-256 (so a resume can tell that the files changed).

    Parameters
    ----------
    ds : Dataset

    Returns
    -------
    dict
        ``name``, ``n_train``, ``n_test``, ``n_in``, ``sample_shape`` (list), ``files``
        (list of ``{"path", "sha256"}``; empty for built-in tasks).
    """
    files = []
    for path in ds.files:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        files.append({"path": str(path), "sha256": h.hexdigest()})
    return {"name": ds.name, "n_train": int(len(ds.X_train)), "n_test": int(len(ds.X_test)),
            "n_in": int(ds.n_in), "sample_shape": list(ds.sample_shape), "files": files}


def changed_files(before: dict, now: dict) -> list:
    """Paths whose content differs between two :func:`describe_dataset` records (a file
    recorded before and now missing or different); empty when the same files are read."""
    old = {f["path"]: f["sha256"] for f in (before or {}).get("files", [])}
    new = {f["path"]: f["sha256"] for f in (now or {}).get("files", [])}
    return [p for p, digest in old.items() if new.get(p) != digest]
