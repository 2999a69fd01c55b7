"""Where the relative paths of a run config are read from (for hwsim.config.load_config).

A relative ``chip.device`` profile path is taken relative to the config file's folder (or
the working folder when it comes from ``--set``) and made absolute; dataset paths of
``[task]`` are kept as written, with ``task.root`` set to the folder they are read from.
"""

import os
from collections.abc import Mapping
from pathlib import Path

from hwsim._schema import fmt, looks_like_path
from hwsim.exceptions import ConfigError
from hwsim.sections.task import TASK_PATH_KEYS

__all__ = ["resolve_task_paths", "resolve_device"]


def resolve_task_paths(task: Mapping, key_sources: Mapping[str, str], base: Path) -> dict:
    """Dataset paths of [task]: kept as written in the file, with ``root`` = the file's
    folder; relative paths (and root) from ``--set`` made absolute against the working
    folder. Values of the wrong type are left for validation to reject.

    Parameters
    ----------
    task : Mapping
        The raw ``[task]`` table (as parsed from TOML, overrides applied).
    key_sources : Mapping[str, str]
        Dotted key → origin, for the keys set by ``--set`` (those are not from the file).
    base : Path
        The config file's folder.

    Returns
    -------
    dict
        A copy of ``task`` with the paths and ``root`` resolved.
    """
    out = dict(task)

    def absolute(v, folder):
        if isinstance(v, str) and v and not Path(v).is_absolute():
            return os.path.normpath(folder / v)
        if isinstance(v, list):
            return [absolute(x, folder) for x in v]
        return v

    for key in (*TASK_PATH_KEYS, "root"):
        if f"task.{key}" in key_sources and key in out:
            out[key] = absolute(out[key], Path.cwd())
    if "task.root" not in key_sources:
        if isinstance(out.get("root"), str) and out["root"]:
            out["root"] = absolute(out["root"], base)
        elif not out.get("root"):
            in_file = [out.get(k) for k in TASK_PATH_KEYS if f"task.{k}" not in key_sources]
            flat = [x for v in in_file for x in (v if isinstance(v, list) else [v])]
            if any(isinstance(x, str) and x and not Path(x).is_absolute() for x in flat):
                out["root"] = str(base)
    return out


def resolve_device(device: str, base: Path, from_file: bool, source: str) -> str:
    """An absolute profile path for a relative path-like ``chip.device``; names unchanged.

    Parameters
    ----------
    device : str
        ``chip.device`` as given: a shipped profile name or a path.
    base : Path
        Folder a relative path is read from.
    from_file : bool
        Whether the value came from the config file (else from ``--set``), for the message.
    source : str
        Origin that starts the error message.

    Returns
    -------
    str

    Raises
    ------
    ConfigError
        If a relative path names no file in ``base``.
    """
    if not device or not looks_like_path(device) or Path(device).is_absolute():
        return device
    resolved = os.path.normpath(base / device)
    if not os.path.isfile(resolved):
        where = "the config file's folder" if from_file else "the working folder"
        raise ConfigError(f"{source}: chip.device = {fmt(device)}: device profile not found "
                          f"in {base} ({where}; relative profile paths are read from it)")
    return resolved
