"""Dataset file readers: IDX, CIFAR-10 binary, .npz, CSV; round trips and malformed files.

The test files are written here byte by byte from the format descriptions (IDX: LeCun et
al.'s MNIST page; CIFAR-10: Krizhevsky's binary version), not with the readers' code.
"""

import gzip
import struct

import numpy as np
import pytest

from hwsim.exceptions import ConfigError
from hwsim.tasks.cifar import read_cifar10
from hwsim.tasks.files import read_dataset_files
from hwsim.tasks.idx import read_idx, read_idx_pair
from hwsim.tasks.prep import normalize, stratified_counts, stratified_subset
from hwsim.tasks.tabular import read_csv, read_npz


def idx_bytes(arr, type_code=0x08, fmt=">B"):
    """An IDX file: 0x00 0x00 type ndim, big-endian uint32 dims, big-endian elements."""
    head = bytes([0, 0, type_code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return head + b"".join(struct.pack(fmt, v) for v in arr.ravel().tolist())


def write(path, data, gz=False):
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (7, 5, 4)).astype(np.uint8), rng.integers(0, 10, 7)


# ---------------------------------------------------------------------------- IDX

@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, images, gz):
    X, y = images
    ext = ".gz" if gz else ""
    fi = write(tmp_path / f"a-images-idx3-ubyte{ext}", idx_bytes(X), gz)
    fl = write(tmp_path / f"a-labels-idx1-ubyte{ext}", idx_bytes(y.astype(np.uint8)), gz)
    X2, y2 = read_idx_pair(fi, fl)
    assert X2.dtype == np.uint8 and X2.shape == (7, 5, 4) and (X2 == X).all()
    assert y2.dtype == np.int64 and (y2 == y).all()
    # the same through the generic reader, format told by the names
    X3, y3 = read_dataset_files([fi, fl])
    assert (X3 == X).all() and (y3 == y).all()


def test_idx_other_element_types(tmp_path):
    a = np.array([[1.5, -2.25], [3.0, 1e-3]])
    assert (read_idx(write(tmp_path / "f", idx_bytes(a, 0x0E, ">d"))) == a).all()
    b = np.array([-3, 70000], dtype=np.int64)
    assert (read_idx(write(tmp_path / "i", idx_bytes(b, 0x0C, ">i"))) == b).all()


def test_idx_gzip_detected_by_content_not_name(tmp_path, images):
    X, _ = images
    f = write(tmp_path / "plain-idx3-ubyte", idx_bytes(X), gz=True)  # gzipped, no .gz
    assert (read_idx(f) == X).all()


@pytest.mark.parametrize("head,msg", [
    (b"\x00\x00\x08\x03"[::-1], "wrong magic number 0x03080000: not an IDX file"),
    (b"PK\x03\x04", "wrong magic number 0x504b0304"),
    (b"\x00\x00\x07\x03", "wrong magic number 0x00000703"),  # unknown element type
    (b"\x00\x00\x08\x00", "wrong magic number 0x00000800"),  # zero dimensions
])
def test_idx_wrong_magic_number(tmp_path, images, head, msg):
    X, _ = images
    f = write(tmp_path / "x-idx3-ubyte", head + idx_bytes(X)[4:])
    with pytest.raises(ConfigError, match=f"^{f}: {msg}"):
        read_idx(f)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_truncated_data(tmp_path, images, gz):
    X, _ = images
    data = idx_bytes(X)[:-3]
    f = write(tmp_path / "x-idx3-ubyte", data, gz)
    with pytest.raises(ConfigError, match=rf"^{f}: truncated IDX file: {len(data)} bytes, the "
                       rf"header \(shape 7×5×4, 1-byte elements\) says {len(data) + 3}$"):
        read_idx(f)


def test_idx_truncated_header_and_too_long(tmp_path, images):
    X, _ = images
    f = write(tmp_path / "h-idx3-ubyte", idx_bytes(X)[:10])
    with pytest.raises(ConfigError, match=rf"^{f}: truncated IDX file: 10 bytes, shorter than "
                       "its 16-byte header$"):
        read_idx(f)
    f = write(tmp_path / "s-idx3-ubyte", b"\x00\x00")
    with pytest.raises(ConfigError, match=rf"^{f}: truncated IDX file: 2 bytes"):
        read_idx(f)
    f = write(tmp_path / "l-idx3-ubyte", idx_bytes(X) + b"\x00")
    with pytest.raises(ConfigError, match=rf"^{f}: IDX file too long: 157 bytes, the header "
                       r"\(shape 7×5×4, 1-byte elements\) says 156$"):
        read_idx(f)


def test_idx_truncated_gzip_stream(tmp_path, images):
    X, _ = images
    f = tmp_path / "x-idx3-ubyte.gz"
    f.write_bytes(gzip.compress(idx_bytes(X))[:-12])
    with pytest.raises(ConfigError, match=rf"^{f}: truncated gzip file"):
        read_idx(f)


def test_idx_label_image_count_mismatch(tmp_path, images):
    X, y = images
    fi = write(tmp_path / "a-idx3-ubyte", idx_bytes(X))
    fl = write(tmp_path / "a-idx1-ubyte", idx_bytes(y[:6].astype(np.uint8)))
    with pytest.raises(ConfigError, match=rf"^{fl}: 6 labels, but the images file {fi} holds "
                       "7 images: the two files do not belong together$"):
        read_idx_pair(fi, fl)


def test_idx_images_and_labels_swapped(tmp_path, images):
    X, y = images
    fi = write(tmp_path / "a-idx3-ubyte", idx_bytes(X))
    fl = write(tmp_path / "a-idx1-ubyte", idx_bytes(y.astype(np.uint8)))
    with pytest.raises(ConfigError, match=f"^{fl}: IDX file of shape 7 holds one value"):
        read_idx_pair(fl, fi)


def test_missing_file_names_the_folder(tmp_path):
    f = tmp_path / "nothing-idx3-ubyte"
    with pytest.raises(ConfigError, match=rf"^{f}: dataset file not found \(looked in {tmp_path}\)"):
        read_idx(f)


# ---------------------------------------------------------------------------- CIFAR-10

def cifar_bytes(X, y):
    """CIFAR-10 binary records: 1 label byte, then 1024 R, 1024 G, 1024 B bytes."""
    out = bytearray()
    for img, lab in zip(X, y):
        out.append(int(lab))
        for c in range(3):
            for r in range(32):
                for col in range(32):
                    out.append(int(img[r, col, c]))  # img is (32, 32, 3) here: HWC
    return bytes(out)


@pytest.mark.parametrize("gz", [False, True])
def test_cifar_round_trip_channel_first(tmp_path, gz):
    rng = np.random.default_rng(1)
    hwc = rng.integers(0, 256, (5, 32, 32, 3)).astype(np.uint8)
    y = np.array([0, 9, 3, 3, 7])
    f1 = write(tmp_path / "data_batch_1.bin", cifar_bytes(hwc[:3], y[:3]), gz)
    f2 = write(tmp_path / "data_batch_2.bin", cifar_bytes(hwc[3:], y[3:]), gz)
    X, y2 = read_cifar10([f1, f2])
    assert X.shape == (5, 3, 32, 32) and X.dtype == np.uint8
    assert (X == hwc.transpose(0, 3, 1, 2)).all() and (y2 == y).all()
    assert X[2, 1, 4, 5] == hwc[2, 4, 5, 1]  # green channel, row 4, column 5


def test_cifar_truncated_and_bad_label(tmp_path):
    good = cifar_bytes(np.zeros((2, 32, 32, 3), np.uint8), [1, 2])
    f = write(tmp_path / "data_batch_1.bin", good[:-100])
    with pytest.raises(ConfigError, match=rf"^{f}: 6046 bytes is not a whole number of "
                       "CIFAR-10 records of 3073 bytes"):
        read_cifar10([f])
    g = write(tmp_path / "test_batch.bin", good[:3073] + bytes([12]) + good[3074:])
    with pytest.raises(ConfigError, match=rf"^{g}: record 1 has label 12; CIFAR-10 labels are "
                       "0-9"):
        read_cifar10([g])
    e = write(tmp_path / "empty.bin", b"")
    with pytest.raises(ConfigError, match=f"^{e}: 0 bytes is not a whole number"):
        read_cifar10([e])


# ---------------------------------------------------------------------------- npz and CSV

def test_npz_round_trip_keeps_the_sample_shape(tmp_path):
    X = np.arange(24, dtype=np.uint8).reshape(3, 2, 4)
    np.savez(tmp_path / "d.npz", X=X, y=np.array([2.0, 0.0, 1.0]))
    X2, y2 = read_npz(tmp_path / "d.npz")
    assert (X2 == X).all() and X2.shape == (3, 2, 4) and y2.tolist() == [2, 0, 1]


@pytest.mark.parametrize("arrays,msg", [
    (dict(X=np.zeros((3, 2))), r"no array y in the \.npz \(it holds X\)"),
    (dict(X=np.zeros((3, 2)), y=np.zeros(4)), "X holds 3 samples but y holds 4 labels"),
    (dict(X=np.zeros(3), y=np.zeros(3)), r"X must be numbers of shape \(N, n_in\)"),
    (dict(X=np.zeros((3, 2)), y=np.array([0, 1.5, 2])), "labels must be integer class numbers"),
    (dict(X=np.zeros((3, 2)), y=np.array([0, -1, 2])), "labels must be class numbers >= 0"),
    (dict(X=np.zeros((3, 2)), y=np.zeros((3, 1))), r"y must have shape \(N,\)"),
])
def test_npz_malformed(tmp_path, arrays, msg):
    f = tmp_path / "bad.npz"
    np.savez(f, **arrays)
    with pytest.raises(ConfigError, match=f"^{f}: {msg}"):
        read_npz(f)


def test_npz_not_a_zip_and_object_arrays(tmp_path):
    f = write(tmp_path / "bad.npz", b"not a zip at all")
    with pytest.raises(ConfigError, match=rf"^{f}: not a readable \.npz file"):
        read_npz(f)
    g = tmp_path / "obj.npz"
    np.savez(g, X=np.array([[1], [2]], dtype=object), y=np.array([0, 1]))
    with pytest.raises(ConfigError, match=rf"^{g}: unreadable array in the \.npz"):
        read_npz(g)


@pytest.mark.parametrize("gz", [False, True])
def test_csv_round_trip_label_column_by_name(tmp_path, gz):
    text = "a, \"digit\" ,b\n0.5,3,1\n\n-2,0,4e-1\n"
    f = write(tmp_path / ("d.csv.gz" if gz else "d.csv"), text.encode(), gz)
    X, y = read_csv(f, "digit")
    assert X.tolist() == [[0.5, 1.0], [-2.0, 0.4]] and y.tolist() == [3, 0]
    X2, y2 = read_dataset_files([f], "digit")
    assert (X2 == X).all() and (y2 == y).all()


@pytest.mark.parametrize("text,msg", [
    ("a,b\n1,2\n", r"no column 'label' \(task.label\) in the header row \(a, b\)"),
    ("label,b\n1,2\n3,x\n", "line 3: 'x' is not a number"),
    ("label,b\n1,2\n3,4,5\n", "line 3 has 3 columns, the header 2"),
    ("label,b\n", "a CSV dataset needs a header, at least one data row"),
    ("label,b\n1.5,2\n", "labels must be integer class numbers"),
])
def test_csv_malformed(tmp_path, text, msg):
    f = write(tmp_path / "bad.csv", text.encode())
    with pytest.raises(ConfigError, match=f"^{f}: {msg}"):
        read_csv(f, "label")


def test_unknown_format_and_mixed_formats(tmp_path):
    f = write(tmp_path / "data.txt", b"1,2")
    with pytest.raises(ConfigError, match=f"^{f}: unknown dataset format; recognised names"):
        read_dataset_files([f])
    a, b = tmp_path / "a.npz", write(tmp_path / "b.csv", b"label,x\n1,2\n")
    np.savez(a, X=np.zeros((1, 1)), y=np.zeros(1))
    with pytest.raises(ConfigError, match=f"^{a}: one split mixes file formats"):
        read_dataset_files([a, b])


# ---------------------------------------------------------------------------- preparation

def test_stratified_counts_by_hand():
    labels = np.array([0] * 50 + [1] * 30 + [2] * 20)
    assert stratified_counts(labels, 10).tolist() == [5, 3, 2]
    # quotas 7·0.5 = 3.5, 7·0.3 = 2.1, 7·0.2 = 1.4: floors 3, 2, 1; the 1 left goes to class 0
    assert stratified_counts(labels, 7).tolist() == [4, 2, 1]
    # quotas 0.5, 0.3, 0.2: floors 0; remainders order classes 0, 1, 2
    assert stratified_counts(labels, 2).tolist() == [1, 1, 0]


def test_stratified_subset_is_seeded_sorted_and_stratified():
    labels = np.repeat(np.arange(4), [40, 30, 20, 10])
    a = stratified_subset(labels, 20, seed=3, part=0)
    assert (a == stratified_subset(labels, 20, seed=3, part=0)).all()
    assert not (a == stratified_subset(labels, 20, seed=4, part=0)).all()
    assert not (a == stratified_subset(labels, 20, seed=3, part=1)).all()
    assert (np.diff(a) > 0).all() and np.bincount(labels[a]).tolist() == [8, 6, 4, 2]


def test_normalize_against_hand_values():
    tr = np.array([[0.0, 10.0], [255.0, 20.0], [51.0, 30.0]])
    te = np.array([[102.0, 40.0]])
    u_tr, u_te = normalize(tr, te, "unit", "x")
    assert np.array_equal(u_tr, (tr - 0.0) / 255.0) and u_te[0, 0] == 0.4
    s_tr, s_te = normalize(tr, te, "standard", "x")
    m1, sd1 = 102.0, np.sqrt(((0 - 102) ** 2 + (255 - 102) ** 2 + (51 - 102) ** 2) / 3)
    assert np.allclose(s_tr[:, 0], (tr[:, 0] - m1) / sd1, rtol=0, atol=1e-15)
    assert np.isclose(s_te[0, 1], (40 - 20) / np.sqrt(200 / 3), rtol=0, atol=1e-15)
    const = np.ones((3, 2))
    assert np.array_equal(normalize(const, const, "standard", "x")[0], np.zeros((3, 2)))
    with pytest.raises(ConfigError, match='^x: every training input equals 1; task.normalize'):
        normalize(const, const, "unit", "x")
