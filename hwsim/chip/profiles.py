"""Device profiles: one TOML file per device, naming its model, its parameters and its source.

A profile is data, not code. It is UTF-8 TOML with four metadata keys at the top and one
``[device]`` table::

    name = "my_reram"                       # required: short identifier
    description = "HfO2 ReRAM, 3 µm, wafer B"
    source = "A. Author et al., Journal 1, 2 (2024), doi:10.xxxx/yyyy"   # required
    notes = "dw_min from Fig. 3b; w_min_dtod not measured (model default)."

    [device]
    model = "ExpStep"                       # required: a name of hwsim.chip.devices.REGISTRY
    dw_min = 0.00135                        # only the parameters that differ from the defaults
    up_down = 0.26

:func:`load_profile` resolves a bare name to the profiles shipped with hwsim
(``hwsim/devices/<name>.toml``, installed as package data) or reads a path, validates every
value against the model's schema (the same rules and messages as run configs:
:func:`hwsim._schema.build_validated`) and returns a frozen :class:`Profile`.
:func:`profile_warnings` lists valid but suspicious values (also issued as
:class:`~hwsim.exceptions.HwsimWarning` on loading).
:func:`profile_to_toml` and :func:`profile_to_dict` write it back (``resolved=True``: every
parameter, for a run's fully resolved ``config.toml``). Only TOML (and, for measured
look-up tables, CSV read by the device model) is ever parsed: no pickle, no eval.

The code is in three modules, all re-exported here: :mod:`hwsim.chip.profile_read`
(the record, finding, loading, validation), :mod:`hwsim.chip.profile_write` (writing back,
the tables ``hwsim devices`` prints) and :mod:`hwsim.chip.profile_docs` (docs/devices.md).

``python -m hwsim.chip.profiles`` prints the generated part of docs/devices.md;
``python -m hwsim.chip.profiles --write docs/devices.md`` updates that part in place and keeps
the hand-written part below the marker line.
"""

import sys

from hwsim.chip.profile_docs import (
    DOC_MARKER, EXAMPLE_LUT_CSV, EXAMPLE_LUT_PROFILE, EXAMPLE_PROFILE, devices_markdown, main,
    write_devices_doc,
)
from hwsim.chip.profile_read import (
    PROFILE_DIR, Profile, format_states, list_profiles, load_profile, model_of, n_states,
    profile_from_dict, profile_path, profile_warnings,
)
from hwsim.chip.profile_write import (
    ParameterRow, ProfileSummary, parameter_rows, profile_summaries, profile_to_dict,
    profile_to_toml, save_profile,
)

__all__ = [
    "Profile", "PROFILE_DIR", "load_profile", "profile_from_dict", "profile_to_dict",
    "profile_to_toml", "save_profile", "list_profiles", "profile_path", "model_of", "n_states",
    "format_states", "ParameterRow", "parameter_rows", "ProfileSummary", "profile_summaries",
    "devices_markdown", "write_devices_doc", "profile_warnings", "DOC_MARKER", "EXAMPLE_PROFILE",
    "EXAMPLE_LUT_CSV", "EXAMPLE_LUT_PROFILE", "main",
]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
