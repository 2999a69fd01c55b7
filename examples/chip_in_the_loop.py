"""Train a stand-in "instrument" with MGD through the chip port: the way to train a real chip.

``NoisyInstrument`` plays the part of hardware on a bench: a 2-2-1 sigmoid network in NumPy
whose every measurement carries its own additive noise and whose weights accept writes with
a little multiplicative error. It implements the :class:`hwsim.chip.port.ChipPort` methods
(present, apply, measure, write, read_weights, clock, get/set_state) and nothing else of hwsim;
:class:`hwsim.learn.controller.MGDController` trains it exactly as it would train the emulator.
To train a real chip, write the same methods over its instrument driver (set the DACs, read
the cost, fire the write pulses).

    python examples/chip_in_the_loop.py
"""

import numpy as np

from hwsim.chip.port import ChipPort
from hwsim.learn.controller import MGDController


class NoisyInstrument:
    """XOR on a 2-2-1 sigmoid network with measurement noise and imperfect writes."""

    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    Y = np.array([0, 1, 1, 0], float)

    def __init__(self, seed=0, cost_noise=1e-6, write_error=0.01):
        self.rng = np.random.default_rng(seed)
        self.theta = self.rng.uniform(0, 1, 9)
        self.n_params, self.n_samples = 9, 4
        self.cost_noise, self.write_error = cost_noise, write_error
        self._x = 0
        self._pert = np.zeros(9)

    def _out(self, th, x):
        W1, b1, W2, b2 = th[:4].reshape(2, 2), th[4:6], th[6:8], th[8]
        h = 1 / (1 + np.exp(-(W1 @ x + b1)))
        return 1 / (1 + np.exp(-(W2 @ h + b2)))

    def clock(self, step):
        pass  # the bench keeps its own time

    def present(self, sample):
        self._x = sample

    def apply(self, perturbation):
        self._pert = np.zeros(9) if perturbation is None else np.asarray(perturbation)

    def measure(self):
        y = self._out(self.theta + self._pert, self.X[self._x])
        return float((y - self.Y[self._x]) ** 2 + self.cost_noise * self.rng.normal())

    def write(self, request, update):
        self.theta += request * (1 + self.write_error * self.rng.normal(size=9))

    def read_weights(self):
        return self.theta.copy()

    def get_state(self):
        return {"theta": self.theta.copy()}

    def set_state(self, state):
        self.theta[:] = state["theta"]

    def accuracy(self):
        return float(np.mean([(self._out(self.theta, x) > 0.5) == y
                              for x, y in zip(self.X, self.Y)]))


if __name__ == "__main__":
    chip = NoisyInstrument(seed=0)
    assert isinstance(chip, ChipPort)
    ctl = MGDController(chip, seed=0, perturbation="cdma", amplitude=0.05, eta=1.0)
    for k in range(8):
        ctl.run(2500)
        print(f"step {ctl.step:6d}  accuracy {chip.accuracy():.2f}")
    print(f"final accuracy {chip.accuracy():.2f}")
