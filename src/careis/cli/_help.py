"""Help that names values as a user would (FILE, N, TEXT), never as Python types.

Why: typer labels every parameter in `--help` with its annotation (`<bool>` on each flag and
on `--help` itself, `<list[str]>`, `<str>`). Commands set `metavar=` where a better name exists
(DIR, CODE, PERCENT); this walk gives every parameter left without one, in careis's own
modules and in the sub-apps mounted from other layers, a plain name, once, before parsing.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument, TyperOption

_LABELS = {int: "N", float: "NUMBER", str: "TEXT"}
_PATHS = {"file": "FILE", "dir": "DIR", "path": "PATH"}


class _NamedArgument(TyperArgument):
    """An argument whose help row shows its name only; its help text says what it takes."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


def _label(param: TyperOption | TyperArgument) -> str | None:
    desc = param.type_descriptor
    if desc.is_choice:
        return None  # typer shows the choices themselves: <xmr|p|u|c>
    if desc.is_path:
        return _PATHS.get(desc.path_type, "PATH")
    annotation = desc.annotation
    args = getattr(annotation, "__args__", None)
    if args and getattr(annotation, "__origin__", None) is list:
        annotation = args[0]
    return _LABELS.get(annotation, "VALUE")


def _name(param: Any) -> None:
    if isinstance(param, TyperArgument):
        if param.metavar is None and param.name:
            param.metavar = param.name.upper()
        param.__class__ = _NamedArgument
    elif isinstance(param, TyperOption) and param.metavar is None:
        param.metavar = "" if param.is_flag else _label(param)


def plain_metavars(command: Any, parent: Any = None, name: str = "careis") -> None:
    """Name every parameter of `command` and of each sub-command below it (see the module)."""
    ctx = command.context_class(command, info_name=name, parent=parent, **command.context_settings)
    for param in command.get_params(ctx):  # includes the lazily made --help option
        _name(param)
    for sub_name, sub in getattr(command, "commands", {}).items():
        plain_metavars(sub, ctx, sub_name)
