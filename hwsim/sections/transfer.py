"""Config section of the Tiki-Taka transfer: ``[chip.transfer]``.

Nested under ``[chip]`` (:class:`hwsim.sections.chip.ChipConfig`) because it is hardware: a second
device array per weight and the read/write circuits that move A's columns into C. Off by
default (``enabled = false``); with every key at its default a run is bit-identical to one
without the section. The chip builds the kernel record (:mod:`hwsim.chip.transfer`); the stage
is :mod:`hwsim.kernels.transfer`; docs/tiki_taka.md describes the schedule and its measured
effect.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from hwsim._schema import Schema, option


@dataclass(frozen=True)
class TransferConfig(Schema, section="chip.transfer"):
    """Tiki-Taka transfer (Gokmen & Haensch 2020; TTv2 Gokmen 2021; c-TTv2 Rasch et al. 2024):
    every weight is two device arrays of the profile, a fast A that receives the MGD updates
    and a slow C; every `transfer_every` updates, `columns_per_transfer` columns of each layer
    (a column = one input index of a dense layer, the biases its own last column) of A are read
    through the read path and written into C as pulses of size `transfer_lr` × the read value
    (or through the TTv2 accumulator H), and reset with probability `reset_prob`. The network
    sees `gamma`·A + C. Rules: needs
    `mgd.target = "weights"`, no write-based perturbation, no drift or PCM read noise, no
    `chip.symmetry_reference`."""

    enabled: bool = option(False, "Train with two device arrays per weight and transfer A → C "
                           "(false = one array, the plain device write).")
    transfer_every: int = option(1, "n: updates between transfers (aihwkit `transfer_every`).",
                                 unit="updates", ge=1)
    columns_per_transfer: int = option(1, "Columns of each layer read and transferred per "
                                       "transfer, cyclically (a layer with fewer columns "
                                       "transfers all of them; aihwkit "
                                       "`n_reads_per_transfer`).", unit="columns", ge=1)
    transfer_lr: float = option(1.0, "λ: C's request per transferred weight is λ·χ·a, a the "
                                "value read from A (aihwkit `transfer_lr`).", ge=0.0)
    gamma: float = option(0.0, "γ: the network sees γ·A + C (0 = only C, as TTv2/c-TTv2; the "
                          "device reads per inference double when γ ≠ 0).", ge=0.0)
    buffer: bool = option(False, "TTv2: accumulate λ·χ·a in a digital H per weight and write "
                          "C only when abs(H) ≥ buffer_threshold·dw_min (false = TTv1, write "
                          "every transfer).")
    buffer_threshold: float = option(1.0, "H's threshold, in units of C's dw_min; a crossing "
                                     "writes trunc(H/thr)·thr (aihwkit "
                                     "`buffer_granularity`).", unit="dw_min", gt=0.0)
    forget_buffer: bool = option(True, "After a write, zero H (true, aihwkit's default) or "
                                 "keep H minus what was written (false).")
    chopper_p: float = option(0.0, "c-TTv2: probability that a column's chopper sign χ flips "
                              "right after the column is transferred (χ multiplies what is "
                              "written into A and what is read from it; 0 = no chopper; "
                              "aihwkit `in_chop_prob`).", ge=0.0, le=1.0)

    reset_prob: float = option(0.0, "Probability that a column of A is hard-reset to its "
                               "devices' reset value right after its transfer (aihwkit "
                               "`with_reset_prob`; 1 = always: A then holds only what arrived "
                               "since the column's last transfer, the damping a symmetric "
                               "device lacks; 0 = never).", ge=0.0, le=1.0)

    def _resolve(self, fail: Callable[..., NoReturn]) -> "TransferConfig":
        if not self.enabled:
            return self
        if self.transfer_lr == 0.0:
            fail("transfer_lr", "must be > 0 when chip.transfer.enabled = true (nothing would "
                 "reach C)")
        if self.chopper_p > 0 and self.gamma > 0:
            fail("chopper_p", "needs chip.transfer.gamma = 0: the network would see the "
                 "chopped A (γ·χ·A, its sign flipping with χ)", "gamma")
        return self
