"""The ``[[network.layers]]`` records: one table per layer of a network beyond a dense stack.

Each table has a ``type`` and the keys that type uses (the others must be left out):

========== ======================================================================
type       keys
========== ======================================================================
dense      ``units`` (≥ 1), ``activation``
conv2d     ``channels`` (≥ 1), ``kernel`` (≥ 1, square), ``stride`` (default 1),
           ``padding`` (zero padding on every side, default 0), ``activation``
maxpool    ``size`` (≥ 1, square window), ``stride`` (default = size)
avgpool    ``size``, ``stride`` (as maxpool)
flatten    none: (C, H, W) → (C·H·W,), row-major (a no-op on the stored layout)
========== ======================================================================

``activation`` "" is ``network.activation``; the last layer (a dense layer) takes
``network.output_activation`` instead. Shapes are checked when the input shape is known
(:mod:`hwsim.chip.layers`). The network layer semantics follow the CNNs of McCaughan,
Oripov et al., APL Mach. Learn. 1, 026118 (2023), Sec. IV.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from hwsim._schema import Schema, fmt, option

__all__ = ["LayerConfig", "LAYER_TYPES", "LAYER_KEYS", "layer_text"]

LAYER_TYPES = ("dense", "conv2d", "maxpool", "avgpool", "flatten")
#: Keys each layer type uses (besides ``type``); the first ones listed are required (≥ 1).
LAYER_KEYS = {"dense": (("units",), ("activation",)),
              "conv2d": (("channels", "kernel"), ("stride", "padding", "activation")),
              "maxpool": (("size",), ("stride",)),
              "avgpool": (("size",), ("stride",)),
              "flatten": ((), ())}


@dataclass(frozen=True)
class LayerConfig(Schema):
    """One ``[[network.layers]]`` table (see the module docstring for the keys per type)."""

    type: str = option("dense", "Layer type.", choices=LAYER_TYPES)
    units: int = option(0, "dense: output width.", unit="neurons", ge=0)
    channels: int = option(0, "conv2d: output channels.", ge=0)
    kernel: int = option(0, "conv2d: kernel height = width.", unit="pixels", ge=0)
    size: int = option(0, "maxpool, avgpool: window height = width.", unit="pixels", ge=0)
    stride: int = option(0, "conv2d: step of the kernel (0 = 1); pools: step of the window "
                         "(0 = size).", unit="pixels", ge=0)
    padding: int = option(0, "conv2d: zeros added on every side.", unit="pixels", ge=0)
    activation: str = option("", 'dense, conv2d: activation; "" = network.activation.',
                             choices=("", "sigmoid", "relu", "tanh"))

    @property
    def resolved_stride(self) -> int:
        """The stride in effect: 1 for conv2d, the window size for pools when unset."""
        if self.stride:
            return self.stride
        return self.size if self.type in ("maxpool", "avgpool") else 1

    def _resolve(self, fail: Callable[..., NoReturn]) -> "LayerConfig":
        required, optional = LAYER_KEYS[self.type]
        for key in required:
            if getattr(self, key) < 1:
                fail(key, f"must be ≥ 1 for type = {fmt(self.type)}", "type")
        defaults = LayerConfig.__dataclass_fields__
        for key in ("units", "channels", "kernel", "size", "stride", "padding", "activation"):
            if key not in required + optional and getattr(self, key) != defaults[key].default:
                used = ", ".join(required + optional) or "no other key"
                fail(key, f"is not used by type = {fmt(self.type)} (it takes {used}); "
                     "remove it", "type")
        return self


def layer_text(spec: LayerConfig) -> str:
    """A short spelling of one layer for titles and tables: ``conv3x3→16``, ``maxpool2``,
    ``dense10``, ``flatten``."""
    if spec.type == "conv2d":
        return f"conv{spec.kernel}x{spec.kernel}→{spec.channels}"
    if spec.type in ("maxpool", "avgpool"):
        return f"{spec.type}{spec.size}"
    if spec.type == "dense":
        return f"dense{spec.units}"
    return spec.type
