"""Reading dataset files: whole files as bytes, gzip detected by its magic number.

Every error is a :class:`~hwsim.exceptions.ConfigError` of one line that starts with the
file's path, so a user knows which of several files is at fault.
"""

import gzip
import os
import zlib

from hwsim.exceptions import ConfigError

__all__ = ["GZIP_MAGIC", "read_bytes", "file_error"]

#: The first two bytes of every gzip stream (RFC 1952).
GZIP_MAGIC = b"\x1f\x8b"


def file_error(path, problem: str) -> ConfigError:
    """The error for a bad dataset file: ``"<path>: <problem>"``.

    Parameters
    ----------
    path : path
    problem : str
        What is wrong and what is allowed, without a trailing period.

    Returns
    -------
    ConfigError
    """
    return ConfigError(f"{os.fspath(path)}: {problem}")


def read_bytes(path) -> bytes:
    """Return a file's content, decompressed when it is gzip (by magic number, not by name).

    Parameters
    ----------
    path : path
        A regular file; ``.gz`` or not.

    Returns
    -------
    bytes

    Raises
    ------
    ConfigError
        The file is missing (naming the folder looked in), a folder, unreadable, or a gzip
        stream that is truncated or corrupt.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise file_error(path, "dataset file not found (looked in "
                         f"{os.path.dirname(os.path.abspath(path))})") from None
    except IsADirectoryError:
        raise file_error(path, "is a folder, not a dataset file") from None
    except OSError as exc:
        raise file_error(path, f"cannot read dataset file: {exc.strerror}") from None
    if data[:2] != GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except EOFError:
        raise file_error(path, "truncated gzip file (the compressed stream ends early); "
                         "download it again") from None
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise file_error(path, f"corrupt gzip file ({exc}); download it again") from None
