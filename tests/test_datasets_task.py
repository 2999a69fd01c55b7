"""Dataset files as a [task]: standard names, paths, checks against the network, subsets,
the digits task through name = "files" bit for bit, and resume from another folder."""

import gzip
import struct

import numpy as np
import pytest

from hwsim.cli import ExitCode, main
from hwsim.config import RunConfig, TaskConfig, load_config
from hwsim.exceptions import ConfigError, HwsimError
from hwsim.experiment import resume_experiment, run_experiment
from hwsim.learn.trainer import build_chip
from hwsim.runs import load_checkpoint
from hwsim.tasks import digits_arrays, load_dataset, load_task


def idx_bytes(arr):
    head = bytes([0, 0, 0x08, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    return head + arr.astype(np.uint8).tobytes()  # uint8: byte order does not matter


def make_mnist(folder, n_train=40, n_test=12, gz_train=True, shape=(4, 5), dot=False):
    """A tiny MNIST-format folder: training files gzipped, test files plain (mixed)."""
    rng = np.random.default_rng(5)
    folder.mkdir(parents=True, exist_ok=True)
    data = {}
    for split, n, gz in (("train", n_train, gz_train), ("t10k", n_test, False)):
        X = rng.integers(0, 256, (n, *shape)).astype(np.uint8)
        X[0, 0, 0], X[0, 0, 1] = 0, 255
        y = np.arange(n) % 10
        for kind, arr, d in (("images", X, "3"), ("labels", y, "1")):
            name = f"{split}-{kind}{'.' if dot else '-'}idx{d}-ubyte" + (".gz" if gz else "")
            raw = idx_bytes(arr)
            (folder / name).write_bytes(gzip.compress(raw) if gz else raw)
        data[split] = (X, y)
    return data


def task(**kw):
    return TaskConfig(**kw)


# ---------------------------------------------------------------------------- standard names

@pytest.mark.parametrize("dot", [False, True])
def test_mnist_folder_standard_names_official_test_split(tmp_path, dot):
    data = make_mnist(tmp_path / "mnist", dot=dot)
    ds = load_dataset(task(name="mnist", path="mnist", root=str(tmp_path)), seed=0,
                      sizes=[20, 8, 10])
    Xtr, ytr = data["train"]
    assert ds.sample_shape == (4, 5) and ds.X_train.shape == (40, 20)
    assert np.array_equal(ds.X_train, Xtr.reshape(40, 20) / 255.0)  # "unit": min 0, max 255
    assert np.array_equal(ds.labels_test, data["t10k"][1]) and ds.X_test.shape == (12, 20)
    assert np.array_equal(ds.Y_train, np.eye(10)[ytr])
    assert len(ds.files) == 4 and ds.files[0].endswith(".gz") and not ds.files[2].endswith(".gz")


def test_fashion_mnist_uses_the_same_names(tmp_path):
    make_mnist(tmp_path / "f")
    ds = load_dataset(task(name="fashion_mnist", path=str(tmp_path / "f"), normalize="none"),
                      seed=0, sizes=[20, 10])
    assert ds.name == "fashion_mnist" and ds.X_train.max() == 255.0


def test_missing_standard_file_names_where_it_looked(tmp_path):
    make_mnist(tmp_path / "m")
    (tmp_path / "m" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(ConfigError, match=(
            rf"^task.path = 'm': t10k-labels-idx1-ubyte \(or t10k-labels-idx1-ubyte.gz\) not "
            rf"found in {tmp_path / 'm'} \(relative paths are read from task.root = {tmp_path}, "
            r"normally the config file's folder\); task.name = 'mnist' needs the files .*"
            r"from https://yann.lecun.com/exdb/mnist/ .*nothing is downloaded$")):
        load_dataset(task(name="mnist", path="m", root=str(tmp_path)), seed=0, sizes=[20, 10])
    with pytest.raises(ConfigError, match=rf"^task.path = 'nope': folder not found: looked for "
                       rf"{tmp_path / 'nope'} \(relative paths are read from task.root"):
        load_dataset(task(name="mnist", path="nope", root=str(tmp_path)), seed=0, sizes=[20, 10])


def test_cifar10_in_the_tarball_subfolder(tmp_path):
    sub = tmp_path / "cifar" / "cifar-10-batches-bin"
    sub.mkdir(parents=True)
    rng = np.random.default_rng(2)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        rec = rng.integers(0, 256, (2, 3073)).astype(np.uint8)
        rec[:, 0] = [1, 8]
        (sub / name).write_bytes(rec.tobytes())
    ds = load_dataset(task(name="cifar10", path="cifar", root=str(tmp_path), normalize="none"),
                      seed=0, sizes=[3072, 10])
    assert ds.sample_shape == (3, 32, 32) and ds.X_train.shape == (10, 3072)
    assert ds.X_test.shape == (2, 3072) and ds.labels_train.tolist() == [1, 8] * 5
    first = np.frombuffer((sub / "data_batch_1.bin").read_bytes(), np.uint8)[1:3073]
    assert np.array_equal(ds.X_train[0], first.astype(float))


# ---------------------------------------------------------------------------- checks

def test_data_that_do_not_fit_the_network_name_the_file(tmp_path):
    make_mnist(tmp_path / "m")
    t = task(name="mnist", path="m", root=str(tmp_path))
    f = tmp_path / "m" / "train-images-idx3-ubyte.gz"
    with pytest.raises(ConfigError, match=rf"^{f}: samples have 20 inputs \(4×5, flattened\), "
                       r"but network.sizes starts with 784: set network.sizes = \[20, ..., 10\]$"):
        load_dataset(t, seed=0, sizes=[784, 10])
    with pytest.raises(ConfigError, match=rf"^{f}: labels go up to 9 \(10 classes\), but "
                       r"network.sizes ends with 5 outputs, for 5 classes \(labels 0 to 4\): "
                       r"set network.sizes = \[20, ..., 10\]$"):
        load_dataset(t, seed=0, sizes=[20, 5])


def test_test_files_of_another_shape(tmp_path):
    np.savez(tmp_path / "tr.npz", X=np.zeros((4, 2, 3)), y=[0, 1, 0, 1])
    np.savez(tmp_path / "te.npz", X=np.zeros((4, 3, 2)), y=[0, 1, 0, 1])
    with pytest.raises(ConfigError, match=rf"^{tmp_path / 'te.npz'}: test samples of shape "
                       r"\(3, 2\), but the training samples"):
        load_dataset(task(name="files", train=["tr.npz"], test=["te.npz"], root=str(tmp_path)),
                     seed=0, sizes=[6, 2])


def test_files_not_found_names_where_it_looked(tmp_path):
    with pytest.raises(ConfigError, match=rf"^task.test\[0\] = 'b.npz': file not found: looked "
                       rf"for {tmp_path / 'b.npz'} \(relative paths are read from task.root = "
                       rf"{tmp_path}, normally the config file's folder\)$"):
        np.savez(tmp_path / "a.npz", X=np.zeros((4, 2)), y=[0, 1, 0, 1])
        load_dataset(task(name="files", train=["a.npz"], test=["b.npz"], root=str(tmp_path)),
                     seed=0, sizes=[2, 2])


@pytest.mark.parametrize("kw,msg", [
    (dict(name="digits", path="x"), 'task.path = "x": is only used with task.name = "mnist"'),
    (dict(name="cifar10", path="c", train=["a.bin"]), 'task.train = \\["a.bin"\\]: is only used'),
    (dict(name="xor", n_train=2), "task.n_train = 2: must be 0 for task.name = \"xor\""),
    (dict(name="files", train="a.npz"), 'task.train = "a.npz": must be a list of at least 0 '
                                        "strings"),
])
def test_task_config_rules(kw, msg):
    with pytest.raises(ConfigError, match=f"^{msg}"):
        TaskConfig(**kw)


def test_empty_path_or_train_is_reported_when_loading():
    with pytest.raises(ConfigError, match='^task.path = "": task.name = "mnist" needs the '
                       r"folder holding its files \(https://yann"):
        load_dataset(task(name="mnist"), seed=0, sizes=[784, 10])
    with pytest.raises(ConfigError, match=r'^task.train = \[\]: task.name = "files" needs at '
                       "least one training file"):
        load_dataset(task(name="files"), seed=0, sizes=[784, 10])


def test_subsets_are_stratified_and_from_the_seed():
    t = task(name="digits", n_train=100, n_test=50)
    a = load_dataset(t, seed=1, sizes=[64, 10])
    assert a.X_train.shape == (100, 64) and a.X_test.shape == (50, 64)
    assert np.bincount(a.labels_train).min() >= 9 and np.bincount(a.labels_test).min() >= 4
    b = load_dataset(t, seed=1, sizes=[64, 10])
    assert np.array_equal(a.X_train, b.X_train) and np.array_equal(a.labels_test, b.labels_test)
    full = load_task("digits", seed=1)
    rows = {r.tobytes() for r in full.X_train}
    assert all(r.tobytes() in rows for r in a.X_train)  # a subset of the training split
    with pytest.raises(ConfigError, match="^task.n_train = 5000: the digits training set holds "
                       "only 1347 samples$"):
        load_dataset(task(name="digits", n_train=5000), seed=1, sizes=[64, 10])


# ---------------------------------------------------------------------------- config paths

def test_config_records_paths_as_given_and_the_config_folder(tmp_path, monkeypatch):
    (tmp_path / "cfg").mkdir()
    cfgfile = tmp_path / "cfg" / "run.toml"
    cfgfile.write_text('[task]\nname = "files"\ntrain = ["data/a.npz"]\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    cfg = load_config(cfgfile)
    assert cfg.task.train == ("data/a.npz",) and cfg.task.root == str(tmp_path / "cfg")
    # a relative path from --set is the user's working folder's
    cfg2 = load_config(cfgfile, ["task.test=[\"t.npz\"]"])
    assert cfg2.task.test == (str(tmp_path / "t.npz"),) and cfg2.task.root == str(tmp_path / "cfg")
    # an explicit relative root is the config folder's
    cfgfile.write_text('[task]\nname = "files"\ntrain = ["a.npz"]\nroot = "data"\n')
    assert load_config(cfgfile).task.root == str(tmp_path / "cfg" / "data")
    # built-in tasks get no root (their configs and run hashes stay as before)
    cfgfile.write_text('[task]\nname = "digits"\n')
    assert load_config(cfgfile).task.root == ""


# ---------------------------------------------------------------------------- whole runs

def digits_cfg(task_section, steps=6000):
    return RunConfig.from_dict({
        "seed": 4, "task": task_section,
        "network": {"sizes": [64, 16, 10], "cost": "cross_entropy"},
        "mgd": {"amplitude": 0.05, "eta": 1.0},
        "sim": {"steps": steps, "eval_every": 2000}})


def test_digits_through_files_matches_the_builtin_task_bit_for_bit(tmp_path):
    ds = load_task("digits", test_fraction=0.25, seed=4)
    np.savez(tmp_path / "train.npz", X=ds.X_train, y=ds.labels_train)
    np.savez(tmp_path / "test.npz", X=ds.X_test, y=ds.labels_test)
    builtin = run_experiment(digits_cfg({"name": "digits"}), tmp_path / "builtin")
    files = run_experiment(digits_cfg({"name": "files", "train": ["train.npz"],
                                       "test": ["test.npz"], "normalize": "none",
                                       "root": str(tmp_path)}), tmp_path / "files")
    a = (tmp_path / "builtin" / "metrics.csv").read_bytes()
    assert a == (tmp_path / "files" / "metrics.csv").read_bytes() and a.count(b"\n") == 5  # header + 4 rows
    assert np.array_equal(builtin.chip_.theta, files.chip_.theta)
    ta = load_checkpoint(tmp_path / "builtin" / "checkpoint.npz")["theta"]
    assert np.array_equal(ta, load_checkpoint(tmp_path / "files" / "checkpoint.npz")["theta"])


def test_digits_npz_without_test_files_gets_the_builtin_split():
    X, labels = digits_arrays()
    ds = load_task("digits", test_fraction=0.3, seed=9)
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        # raw 0..16 intensities: "unit" divides by 16, as the built-in task does
        np.savez(f"{d}/all.npz", X=(X * 16).round().astype(np.uint8), y=labels)
        got = load_dataset(task(name="files", train=["all.npz"], root=d, test_fraction=0.3),
                           seed=9, sizes=[64, 10])
    for k in ("X_train", "Y_train", "labels_train", "X_test", "Y_test", "labels_test"):
        assert np.array_equal(getattr(got, k), getattr(ds, k)), k


def test_a_files_run_resumes_from_another_folder_through_the_cli(tmp_path, monkeypatch, capsys):
    proj = tmp_path / "proj"
    (proj / "data").mkdir(parents=True)
    rng = np.random.default_rng(0)
    X = rng.random((30, 3))
    np.savez(proj / "data" / "d.npz", X=X, y=(X[:, 0] > 0.5).astype(int))
    (proj / "run.toml").write_text(
        'seed = 2\n[task]\nname = "files"\ntrain = ["data/d.npz"]\ntest_fraction = 0.3\n'
        '[network]\nsizes = [3, 4, 2]\ncost = "cross_entropy"\n'
        '[sim]\nsteps = 400\neval_every = 100\n', encoding="utf-8")
    monkeypatch.chdir(proj)
    assert main(["run", "run.toml", "--out", str(tmp_path / "r"), "--quiet"]) == ExitCode.OK
    text = (tmp_path / "r" / "config.toml").read_text()
    assert 'train = [\n    "data/d.npz",\n]' in text and f'root = "{proj}"' in text
    monkeypatch.chdir(tmp_path)
    t = resume_experiment(tmp_path / "r", ["sim.steps=800"])
    assert t.summary_["steps"] == 800
    once = run_experiment(load_config(proj / "run.toml", ["sim.steps=800"]), tmp_path / "once")
    assert np.array_equal(once.chip_.theta, t.chip_.theta)
    chip, _, ds = build_chip(t.config)
    assert ds.files == (str(proj / "data" / "d.npz"),)
    import hashlib
    import json
    rec = json.loads((tmp_path / "r" / "summary.json").read_text())["dataset"]
    assert rec["files"] == [{"path": str(proj / "data" / "d.npz"), "sha256": hashlib.sha256(
        (proj / "data" / "d.npz").read_bytes()).hexdigest()}]
    assert (rec["n_train"], rec["n_test"], rec["sample_shape"]) == (21, 9, [3])
    # changed data: the resume refuses, naming the file
    np.savez(proj / "data" / "d.npz", X=X[::-1], y=(X[::-1, 0] > 0.5).astype(int))
    with pytest.raises(HwsimError, match=f"^{proj / 'data' / 'd.npz'}: the dataset file changed"):
        resume_experiment(tmp_path / "r", ["sim.steps=1200"])


def test_mnist_example_config_fits_mnist_shaped_files(tmp_path):
    """examples/mnist_mlp.toml is not run on MNIST in the tests; its network fits 28×28 IDX
    files and a few steps run (files written here, task.path overridden)."""
    from pathlib import Path
    make_mnist(tmp_path / "m", n_train=20, n_test=10, shape=(28, 28))
    example = Path(__file__).resolve().parents[1] / "examples" / "mnist_mlp.toml"
    cfg = load_config(example, [f"task.path={tmp_path / 'm'}", "sim.steps=20",
                                "sim.eval_every=10"])
    assert cfg.task.path == str(tmp_path / "m") and cfg.network.sizes == (784, 128, 10)
    assert load_config(example).task.root == str(example.parent)
    t = run_experiment(cfg)
    assert t.summary_["n_params"] == 101_770 and t.summary_["steps"] == 20
    assert t.dataset_.sample_shape == (28, 28) and len(t.metrics_) == 3
