"""Batched forward passes of layer networks (hwsim.kernels.layers) against the naive NumPy
reference of tests/naive.py (direct nested loops for conv and pooling), to 1e-12."""

import os
import subprocess
import sys

import numpy as np
import pytest

from hwsim.chip.layers import CHUNK, LayerNet, build_network
from hwsim.config import NetworkConfig
from hwsim.exceptions import ConfigError
from hwsim.kernels import sense as _sense
from tests import naive

SHAPE = (2, 9, 7)  # several channels, non-square
LAYERS = [dict(type="conv2d", channels=3, kernel=3, stride=2, padding=1, activation="tanh"),
          dict(type="maxpool", size=2, stride=1),
          dict(type="conv2d", channels=4, kernel=2),
          dict(type="avgpool", size=2),
          dict(type="flatten"), dict(type="dense", units=5, activation="sigmoid"),
          dict(type="dense", units=3)]


@pytest.fixture(scope="module")
def net():
    net = build_network(NetworkConfig(layers=LAYERS, activation="relu", cost="cross_entropy"),
                        SHAPE)
    assert net.chunk == CHUNK
    return LayerNet(net.shapes, "relu", cost="cross_entropy", chunk=4)  # several chunks


@pytest.fixture(scope="module")
def data(net):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(11, int(np.prod(SHAPE))))  # three chunks of 4, the last short
    labels = rng.integers(0, 3, len(X))
    theta = rng.normal(scale=0.7, size=net.n_params)
    return X, np.eye(3)[labels], labels, theta


def ref_cost(theta, x, y):
    return naive.layer_net_cost(theta, x, y, LAYERS, SHAPE, "relu", "softmax", "cross_entropy")


def test_conv_and_pool_outputs_equal_the_naive_loops(net, data):
    X, _, _, theta = data
    got = net.outputs(theta, X)
    want = np.array([naive.layer_net_output(theta, x, LAYERS, SHAPE, "relu", "linear")
                     for x in X])
    assert np.abs(got - want).max() < 1e-12
    assert net.shapes[2].out_shape == (4, 3, 2)  # (5 - 2)//1 + 1 = 4 → conv 2: 3, 3 → 3×2


def test_measure_batch_of_3_and_one_sample_are_naive_means(net, data):
    X, Y, _, theta = data
    pert = np.random.default_rng(1).normal(scale=0.01, size=net.n_params)
    m = net.sense_model(X, Y)
    out = np.zeros(2)
    batch = np.array([4, 0, 9])
    _sense.measure(m._replace(batch=batch), theta, pert, 0, True, out, 0)
    want_p = np.mean([ref_cost(theta + pert, X[i], Y[i]) for i in batch])
    want_b = np.mean([ref_cost(theta, X[i], Y[i]) for i in batch])
    assert abs(out[0] - want_p) < 1e-12 and abs(out[1] - want_b) < 1e-12
    one = np.zeros(2)
    _sense.measure(m, theta, pert, 9, False, one, 0)
    assert abs(one[0] - ref_cost(theta + pert, X[9], Y[9])) < 1e-12 and one[1] == 0.0
    _sense.measure_one(m, theta, pert, 9, one, 0, 1)  # measure_one dispatches the same kind
    assert abs(one[0] - ref_cost(theta + pert, X[9], Y[9])) < 1e-12


def test_evaluate_in_chunks_equals_the_naive_cost_and_accuracy(net, data):
    X, Y, labels, theta = data
    cost, acc = net.evaluate(theta, X, Y, labels)
    outs = [naive.layer_net_output(theta, x, LAYERS, SHAPE, "relu", "linear") for x in X]
    assert abs(cost - np.mean([ref_cost(theta, x, y) for x, y in zip(X, Y)])) < 1e-12
    assert acc == np.mean(np.argmax(outs, axis=1) == labels)


def test_a_nan_weight_propagates_through_max_pooling(net, data):
    X, Y, labels, theta = data
    bad = theta.copy()
    bad[0] = np.nan
    assert np.isnan(net.evaluate(bad, X[:3], Y[:3], labels[:3])[0])


CHILD = """
import sys
import numpy as np
from hwsim.chip.layers import build_network
from hwsim.config import NetworkConfig
L = [dict(type="conv2d", channels=16, kernel=3), dict(type="maxpool", size=2),
     dict(type="conv2d", channels=32, kernel=3), dict(type="maxpool", size=2),
     dict(type="flatten"), dict(type="dense", units=10)]
dt = np.dtype(sys.argv[1])
net = build_network(NetworkConfig(layers=L, activation="relu"), (28, 28), dtype=dt)
rng = np.random.default_rng(0)
out = net.outputs((rng.normal(size=net.n_params) * 0.1).astype(dt), rng.random((100, 784)))
import hashlib
print(hashlib.sha256(out.tobytes()).hexdigest())
"""


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_bits_do_not_depend_on_the_blas_or_numba_thread_count(dtype):
    digests = set()
    for n in ("1", "2"):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=n, NUMBA_NUM_THREADS=n, OMP_NUM_THREADS=n)
        r = subprocess.run([sys.executable, "-c", CHILD, dtype], env=env, capture_output=True,
                           text=True, check=True)
        digests.add(r.stdout.strip())
    assert len(digests) == 1, digests


@pytest.fixture(scope="module")
def net32(net):
    return LayerNet(net.shapes, "relu", cost="cross_entropy", chunk=4, dtype=np.float32)


def f32(a):
    """a rounded to float32 and back: the values a float32 chip holds."""
    return np.asarray(a, np.float32).astype(np.float64)


def test_float32_forward_equals_the_naive_float64_loops_to_float32_rounding(net, net32, data):
    """sim.dtype = float32: X, weights, im2col columns and activations in float32 (sgemm);
    the naive float64 loops on the same float32 θ and X agree to float32 rounding, and the
    float64 kernels (1e-12 above) do not, so the float32 arithmetic is really used."""
    X, Y, labels, theta = data
    th = theta.astype(np.float32)
    assert net32.scratch().dtype == np.float32 and net.scratch().dtype == np.float64
    got = net32.outputs(th, X)
    want = np.array([naive.layer_net_output(f32(th), f32(x), LAYERS, SHAPE, "relu", "linear")
                     for x in X])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert np.abs(got - want).max() > 1e-10  # not the float64 path
    assert np.abs(net.outputs(f32(th), f32(X)) - want).max() < 1e-12
    pert = np.random.default_rng(1).normal(scale=0.01, size=net.n_params).astype(np.float32)
    out = np.zeros(2)
    batch = np.array([4, 0, 9, 10, 3])  # two chunks of 4
    _sense.measure(net32.sense_model(X, Y)._replace(batch=batch), th, pert, 0, True, out, 0)
    want_p = np.mean([ref_cost(f32(th + pert), f32(X[i]), Y[i]) for i in batch])
    want_b = np.mean([ref_cost(f32(th), f32(X[i]), Y[i]) for i in batch])
    np.testing.assert_allclose(out, [want_p, want_b], rtol=1e-5)
    cost, acc = net32.evaluate(th, X, Y, labels)
    assert abs(cost - np.mean([ref_cost(f32(th), f32(x), y) for x, y in zip(X, Y)])) < 1e-5
    assert acc == np.mean(np.argmax(want, axis=1) == labels)


def test_an_unknown_forward_dtype_is_refused(net):
    with pytest.raises(ConfigError, match=r"^sim.dtype = float16: allowed: float64, float32"):
        LayerNet(net.shapes, dtype=np.float16)


def test_the_exact_gradient_of_a_conv_net_equals_finite_differences(net, data):
    from hwsim.chip.gradient import backprop
    from tests.test_mgd_facts import fd_gradient
    X, Y, labels, theta = data
    g = backprop(net, theta, X[:5], Y[:5])
    want = fd_gradient(lambda th: net.evaluate(th, X[:5], Y[:5], labels[:5])[0], theta)
    assert np.abs(g.grad - want).max() < 1e-6 * max(1.0, np.abs(want).max())
    assert abs(g.cost - net.evaluate(theta, X[:5], Y[:5], labels[:5])[0]) < 1e-12
    assert g.dz.shape == (5, int(net.sizes[1:].sum()))
