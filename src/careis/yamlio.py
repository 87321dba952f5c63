"""YAML files that explain their own errors: every key keeps the line it was written on.

Why: contracts, measures and run configs are written by commissioners' analysts, not
programmers. When one is wrong, the message must name the file, the line and the field, the
way a compiler would, not dump a pydantic traceback.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from careis.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

Loc = tuple[str | int, ...]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that also records the line of every mapping key and sequence item."""


def _construct(loader: _LineLoader, node: yaml.Node, path: Loc, lines: dict[Loc, int]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in out:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}'", key_node.start_mark
                )
            child = (*path, key)
            lines[child] = key_node.start_mark.line + 1
            out[key] = _construct(loader, value_node, child, lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            child = (*path, i)
            lines[child] = item.start_mark.line + 1
            items.append(_construct(loader, item, child, lines))
        return items
    try:
        return loader.construct_object(node, deep=True)
    except ValueError as exc:  # e.g. an impossible date such as 2025-13-01
        raise yaml.constructor.ConstructorError(
            None, None, f"'{node.value}' is not a valid value ({exc})", node.start_mark
        ) from exc


def load_yaml(path: str | Path) -> tuple[Any, dict[Loc, int]]:
    """Read a YAML file; return (data, {key path: line number}).

    Raises ConfigError (one line, with file and line) on unreadable files or bad syntax.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError("file not found.", file=path, fix="check the path.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the file ({exc.__class__.__name__}).", file=path) from exc
    return parse_yaml(text, source=path)


def parse_yaml(text: str, source: str | Path = "<string>") -> tuple[Any, dict[Loc, int]]:
    """Parse YAML text (see `load_yaml`)."""
    lines: dict[Loc, int] = {}
    try:
        loader = _LineLoader(text)
        try:
            node = loader.get_single_node()
            data = _construct(loader, node, (), lines) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}" if mark is not None else None
        raise ConfigError(
            f"not valid YAML: {exc.problem or exc.context}.",
            file=source,
            where=where,
            fix=(
                "correct the value (dates are YYYY-MM-DD)."
                if "is not a valid value" in str(exc.problem)
                else "check indentation and that every 'key: value' has a space after the colon."
            ),
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}.", file=source) from exc
    return data, lines


def format_loc(loc: Loc) -> str:
    """('components', 1, 'rate') -> 'components[1].rate'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def line_of(lines: Mapping[Loc, int], loc: Loc) -> int | None:
    """The line of `loc`, or of its nearest ancestor that has one."""
    cur = tuple(loc)
    while True:
        if cur in lines:
            return lines[cur]
        if not cur:
            return None
        cur = cur[:-1]


def _clean_loc(loc: tuple[Any, ...], data: Any) -> Loc:
    """Map a pydantic error location onto the keys of the YAML file.

    Pydantic inserts the tag of a tagged union (e.g. 'engagement') into the location; such a
    part is not a key in the file and is skipped when the next part is.
    """
    out: list[str | int] = []
    node = data
    parts = list(loc)
    for i, part in enumerate(parts):
        if (isinstance(node, Mapping) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        ):
            out.append(part)
            node = node[part]
        elif isinstance(node, Mapping) and i + 1 < len(parts) and parts[i + 1] in node:
            continue  # a union tag, not a key in the file
        elif isinstance(node, Mapping) and part in {v for v in node.values() if isinstance(v, str)}:
            continue  # a tagged union's tag, taken from the discriminator's value
        else:
            out.append(part)
            node = None
    return tuple(out)


def validation_error(
    exc: ValidationError, data: Any, lines: Mapping[Loc, int], source: str | Path
) -> ConfigError:
    """Turn pydantic's errors into one line naming file, line and field.

    An unknown field is reported first (it is usually a typo that also causes a 'missing'
    error for the field meant), with a 'did you mean' from the missing fields beside it.
    """
    import difflib

    errors = exc.errors(include_url=False)
    cleaned = []
    for e in errors:
        loc = _clean_loc(tuple(e.get("loc", ())), data)
        if e.get("type") == "union_tag_invalid":
            # point at the discriminator's own line ("type: bonus"), not the item's first line
            tag = str((e.get("ctx") or {}).get("discriminator", "")).strip("'")
            loc = (*loc, tag) if tag else loc
        cleaned.append((loc, e))
    cleaned.sort(key=lambda pair: 0 if pair[1].get("type") == "extra_forbidden" else 1)
    loc, first = cleaned[0]
    line = line_of(lines, loc)
    field = format_loc(loc)
    kind = first.get("type", "")
    msg = str(first.get("msg", "invalid value"))
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    fix: str | None = None
    if kind == "extra_forbidden":
        name = str(loc[-1]) if loc else field
        problem = f"unknown field '{name}'"
        missing_here = [
            str(other[-1])
            for other, e in cleaned
            if e.get("type") == "missing" and other[:-1] == loc[:-1] and other
        ]
        guess = difflib.get_close_matches(name, missing_here, n=1)
        fix = (
            f"did you mean '{guess[0]}'?"
            if guess
            else "check the spelling against the documented fields."
        )
    elif kind == "missing":
        problem = f"required field '{field}' is missing"
        fix = f"add '{loc[-1] if loc else field}:' here."
    else:
        value = first.get("input")
        shown = (
            f" (got {value!r})"
            if value is not None and not isinstance(value, Mapping | list)
            else ""
        )
        problem = f"field '{field}': {msg}{shown}"
    related = {
        id(e)
        for other, e in cleaned
        if kind == "extra_forbidden" and e.get("type") == "missing" and other[:-1] == loc[:-1]
    }
    more = len(errors) - 1 - len(related)
    if more > 0:
        problem += f" (and {more} more problem{'s' if more > 1 else ''} in this file)"
    where = f"line {line}" if line is not None else None
    return ConfigError(problem + ".", file=source, where=where, fix=fix)


def load_model(model: type[M], path: str | Path) -> M:
    """Load a YAML file into a pydantic model, with file/line/field errors."""
    data, lines = load_yaml(path)
    return model_from_data(model, data, lines, path)


def model_from_data(model: type[M], data: Any, lines: Mapping[Loc, int], source: str | Path) -> M:
    if data is None:
        raise ConfigError("the file is empty.", file=source)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, data, lines, source) from None
