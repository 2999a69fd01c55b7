"""The ``[network]`` config section: the feed-forward network (sizes, activations, cost, init).

Registered in :class:`hwsim.config.RunConfig`; the network itself is :mod:`hwsim.chip.network`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from hwsim._schema import Schema, fmt, option

__all__ = ["NetworkConfig"]


@dataclass(frozen=True)
class NetworkConfig(Schema, section="network"):
    """Feed-forward network. Rules: `init_low < init_high`; `cost = "cross_entropy"` needs
    `output_activation` `"auto"` or `"softmax"` and at least 2 outputs."""

    sizes: tuple[int, ...] = option((64, 32, 10), "Layer widths, input first, output last.",
                                    unit="neurons", ge=1, min_len=2)
    activation: str = option("sigmoid", "Hidden-layer activation.",
                             choices=("sigmoid", "relu", "tanh"))
    output_activation: str = option(
        "auto", 'Output activation; "auto" = "softmax" when cost is "cross_entropy", '
        "else the same as `activation`.",
        choices=("auto", "sigmoid", "relu", "tanh", "linear", "softmax"))
    cost: str = option("mse", "Cost function.", choices=("mse", "cross_entropy"))
    init: str = option("xavier", 'Weight initialisation: Xavier, or "uniform" on '
                       "U[init_low, init_high).", choices=("xavier", "uniform"))
    init_low: float = option(0.0, 'Lower bound of U[low, high) when init = "uniform".',
                             unit="weight units")
    init_high: float = option(1.0, 'Upper bound of U[low, high) when init = "uniform".',
                              unit="weight units")

    @property
    def resolved_output_activation(self) -> str:
        """The output activation with ``"auto"`` replaced by its meaning."""
        if self.output_activation != "auto":
            return self.output_activation
        return "softmax" if self.cost == "cross_entropy" else self.activation

    def _resolve(self, fail: Callable[..., NoReturn]) -> "NetworkConfig":
        if not self.init_low < self.init_high:
            fail("init_high", f"must be > network.init_low = {fmt(self.init_low)}", "init_low")
        if self.cost == "cross_entropy":
            if self.output_activation not in ("auto", "softmax"):
                fail("output_activation",
                     'must be "auto" or "softmax" when network.cost = "cross_entropy"', "cost")
            if self.sizes[-1] < 2:
                fail("sizes", 'must end in at least 2 outputs when network.cost = "cross_entropy"',
                     "cost")
        return self
