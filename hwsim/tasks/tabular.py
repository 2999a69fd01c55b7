"""NumPy ``.npz`` (arrays ``X`` and ``y``) and CSV (one label column chosen by name) files.

``.npz``: ``X`` of shape (N, ...) numeric (an image set may keep its shape, e.g.
(N, 28, 28)), ``y`` of shape (N,) integer class labels (integral floats are accepted).
Read with ``allow_pickle=False``: an ``.npz`` never runs code.

CSV: a header row naming the columns, then one sample per row, comma-separated numbers;
the column named by ``task.label`` holds the class, every other column is an input, in
file order (the layout of the common ``mnist_train.csv``: ``label, 1x1, 1x2, …``).
"""

import io
import zipfile

import numpy as np

from hwsim.exceptions import ConfigError
from hwsim.tasks.fileio import file_error, read_bytes

__all__ = ["read_npz", "read_csv", "as_labels"]


def as_labels(y, path) -> np.ndarray:
    """Class labels as int64, checked: integers >= 0 (an integral float array is accepted).

    Parameters
    ----------
    y : np.ndarray
        (N,) labels.
    path : path
        Named in errors.

    Returns
    -------
    np.ndarray
        (N,) int64.

    Raises
    ------
    ConfigError
        Non-numeric, non-integral, NaN or negative labels.
    """
    y = np.asarray(y)
    if y.dtype.kind not in "iuf" or y.dtype.kind == "f" and not (
            np.isfinite(y).all() and (y == np.round(y)).all()):
        raise file_error(path, f"labels must be integer class numbers 0, 1, …; got dtype "
                         f"{y.dtype}{' with non-integral values' if y.dtype.kind == 'f' else ''}")
    if y.size and y.min() < 0:
        raise file_error(path, f"labels must be class numbers >= 0; found {y.min():g}")
    return y.astype(np.int64)


def read_npz(path):
    """Read an ``.npz`` holding ``X`` (N, ...) and ``y`` (N,).

    Parameters
    ----------
    path : path

    Returns
    -------
    X : np.ndarray
        (N, ...) as stored (numeric).
    y : np.ndarray
        (N,) int64.

    Raises
    ------
    ConfigError
        Not a zip/npz file, a missing key (naming the keys present), object arrays,
        non-numeric X, X with fewer than 2 dimensions, y not 1-D, or different counts.
    """
    data = read_bytes(path)
    if data[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise file_error(path, "not a readable .npz file (no zip signature); write it with "
                         "numpy.savez(path, X=inputs, y=labels)")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            keys = list(z.files)
            missing = [k for k in ("X", "y") if k not in keys]
            if missing:
                raise file_error(path, f"no array {' or '.join(missing)} in the .npz (it holds "
                                 f"{', '.join(keys) or 'nothing'}); save it with "
                                 "numpy.savez(path, X=inputs, y=labels)")
            X, y = z["X"], z["y"]
    except ConfigError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise file_error(path, f"not a readable .npz file ({exc}); write it with "
                         "numpy.savez(path, X=inputs, y=labels)") from None
    except ValueError as exc:  # object arrays need pickle, which is refused
        raise file_error(path, f"unreadable array in the .npz ({exc}); store numbers, "
                         "not Python objects") from None
    if X.dtype.kind not in "iuf" or X.ndim < 2:
        raise file_error(path, f"X must be numbers of shape (N, n_in) or (N, ...image shape); "
                         f"got dtype {X.dtype}, shape {X.shape}")
    if y.ndim != 1:
        raise file_error(path, f"y must have shape (N,), one class number per sample; got "
                         f"shape {y.shape}")
    if len(X) != len(y):
        raise file_error(path, f"X holds {len(X)} samples but y holds {len(y)} labels")
    return X, as_labels(y, path)


def read_csv(path, label: str):
    """Read a CSV file with a header row; the column named ``label`` holds the classes.

    Parameters
    ----------
    path : path
        ``.csv`` or ``.csv.gz``.
    label : str
        Header name of the label column (``task.label``; surrounding spaces and quotes of
        header cells are ignored).

    Returns
    -------
    X : np.ndarray
        (N, n_columns − 1) float64, the other columns in file order.
    y : np.ndarray
        (N,) int64.

    Raises
    ------
    ConfigError
        Not UTF-8, no data rows, no column ``label`` (listing the first columns), a row
        with another number of columns or a non-number (naming the line).
    """
    try:
        text = read_bytes(path).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise file_error(path, f"CSV must be UTF-8 text (invalid byte at offset {exc.start})"
                         ) from None
    lines = text.splitlines()
    header = [c.strip().strip('"').strip() for c in lines[0].split(",")] if lines else []
    if label not in header:
        shown = ", ".join(header[:5]) + (", …" if len(header) > 5 else "")
        raise file_error(path, f"no column {label!r} (task.label) in the header row "
                         f"({shown or 'empty file'}); the first row must name the columns")
    col = header.index(label)
    if len(header) < 2 or not any(ln.strip() for ln in lines[1:]):
        raise file_error(path, "a CSV dataset needs a header, at least one data row and at "
                         "least one input column besides the label")
    try:
        out = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=1, ndmin=2, comments=None,
                         dtype=np.float64)
    except ValueError:
        _raise_bad_line(path, lines, len(header))
        raise  # pragma: no cover - _raise_bad_line always raises
    if out.shape[1] != len(header):
        _raise_bad_line(path, lines, len(header))
    X = np.ascontiguousarray(np.delete(out, col, axis=1))
    return X, as_labels(out[:, col], path)


def _raise_bad_line(path, lines, width):
    """Find the first bad data line (numpy's message names no file) and raise for it."""
    for line_no, ln in enumerate(lines[1:], start=2):
        if not ln.strip():
            continue
        cells = ln.split(",")
        if len(cells) != width:
            raise file_error(path, f"line {line_no} has {len(cells)} columns, the header "
                             f"{width}")
        for c in cells:
            try:
                float(c)
            except ValueError:
                raise file_error(path, f"line {line_no}: {c.strip()!r} is not a number"
                                 ) from None
    raise file_error(path, "unreadable CSV data")
