"""MNIST-format IDX files (``*-idx3-ubyte`` images, ``*-idx1-ubyte`` labels), gzipped or not.

The IDX format (LeCun, Cortes & Burges, "The MNIST database", yann.lecun.com/exdb/mnist):
a 4-byte magic number ``00 00 TT DD`` (TT the element type, DD the number of dimensions),
DD big-endian uint32 dimension sizes, then the elements, big-endian, in C order. MNIST,
Fashion-MNIST, KMNIST and EMNIST ship in this format (images uint8, shape (N, 28, 28);
labels uint8, shape (N,)). EMNIST images are stored transposed; they are read as stored.
"""

import numpy as np

from hwsim.tasks.fileio import file_error, read_bytes

__all__ = ["IDX_TYPES", "parse_idx", "read_idx", "read_idx_pair"]

#: IDX element type code -> big-endian NumPy dtype.
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(data: bytes, path) -> np.ndarray:
    """Decode the bytes of one IDX file.

    Parameters
    ----------
    data : bytes
        The (decompressed) file content.
    path : path
        Named in errors.

    Returns
    -------
    np.ndarray
        Shape as the header says; native byte order; uint8 for type 0x08.

    Raises
    ------
    ConfigError
        Wrong magic number (not IDX), unknown element type, a header or data shorter than
        the header says (truncated file), or extra bytes after the data.
    """
    if len(data) < 4:
        raise file_error(path, f"truncated IDX file: {len(data)} bytes, shorter than the "
                         "4-byte magic number")
    if data[0] != 0 or data[1] != 0 or data[2] not in IDX_TYPES or data[3] == 0:
        raise file_error(path, f"wrong magic number 0x{data[:4].hex()}: not an IDX file "
                         "(expected 0x0000TTDD with element type TT in "
                         f"{', '.join(f'{t:02x}' for t in IDX_TYPES)} and DD >= 1 dimensions, "
                         "e.g. 0x00000803 for images, 0x00000801 for labels)")
    ndim = data[3]
    head = 4 + 4 * ndim
    if len(data) < head:
        raise file_error(path, f"truncated IDX file: {len(data)} bytes, shorter than its "
                         f"{head}-byte header")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, 4))
    dtype = np.dtype(IDX_TYPES[data[2]])
    need = head + int(np.prod(shape, dtype=object)) * dtype.itemsize
    if len(data) != need:
        what = "truncated IDX file" if len(data) < need else "IDX file too long"
        raise file_error(path, f"{what}: {len(data)} bytes, the header "
                         f"(shape {'×'.join(map(str, shape))}, {dtype.itemsize}-byte "
                         f"elements) says {need}")
    arr = np.frombuffer(data, dtype, offset=head).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))


def read_idx(path) -> np.ndarray:
    """Read one IDX file (gzipped or not): see :func:`parse_idx`.

    Raises
    ------
    ConfigError
        As :func:`parse_idx` and :func:`hwsim.tasks.fileio.read_bytes`.
    """
    return parse_idx(read_bytes(path), path)


def read_idx_pair(images, labels):
    """Read an images file and its labels file.

    Parameters
    ----------
    images : path
        IDX file of shape (N, ...) with at least 2 dimensions (MNIST: (N, 28, 28) uint8).
    labels : path
        IDX file of shape (N,), integer class labels.

    Returns
    -------
    X : np.ndarray
        (N, ...) as stored.
    y : np.ndarray
        (N,) int64.

    Raises
    ------
    ConfigError
        As :func:`read_idx`; an images file of one dimension or a labels file of more (the
        two swapped), float labels, or different sample counts (naming both files).
    """
    X = read_idx(images)
    y = read_idx(labels)
    if X.ndim < 2:
        raise file_error(images, f"IDX file of shape {X.shape[0]} holds one value per sample: "
                         "a labels file (idx1) given as images (idx3)")
    if y.ndim != 1:
        raise file_error(labels, f"IDX file of shape {'×'.join(map(str, y.shape))}: a labels "
                         "file must have one dimension (idx1); is it an images file?")
    if y.dtype.kind == "f":
        raise file_error(labels, "IDX labels must be integers, not floats")
    if len(X) != len(y):
        raise file_error(labels, f"{len(y)} labels, but the images file {images} holds "
                         f"{len(X)} images: the two files do not belong together")
    return X, y.astype(np.int64)
