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


# Limits on what one YAML file may expand to. Why: an alias re-used inside an alias ("billion
# laughs") makes a 600-byte file stand for ~10^9 values, which every later step (pydantic,
# the measures compiler) would walk; and PyYAML composes nodes recursively, so very deep
# nesting ends in RecursionError. No real contract, config or measures file comes near these.
MAX_DEPTH = 50
MAX_VALUES = 100_000


class _Builder:
    """Construct each YAML node once (aliases share the object), recording key lines.

    Why not `construct_object(deep=True)` per key, as before: that re-walked an alias's whole
    subtree at every use, so nested aliases cost exponential time and memory.
    """

    def __init__(self, loader: _LineLoader, lines: dict[Loc, int]) -> None:
        self.loader = loader
        self.lines = lines
        self.memo: dict[int, Any] = {}
        self.sizes: dict[int, int] = {}
        self.open: set[int] = set()

    def size(self, node: yaml.Node, depth: int = 0) -> int:
        """How many values `node` stands for once every alias is expanded (memoised)."""
        key = id(node)
        if key in self.sizes:
            return self.sizes[key]
        if depth > MAX_DEPTH:
            raise _Limit(f"nested more than {MAX_DEPTH} levels deep", node.start_mark)
        if key in self.open:
            raise _Limit("an alias refers to the mapping or list that contains it", node.start_mark)
        self.open.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            total += sum(self.size(k, depth + 1) + self.size(v, depth + 1) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(self.size(item, depth + 1) for item in node.value)
        self.open.discard(key)
        self.sizes[key] = total
        if total > MAX_VALUES:
            raise _Limit(
                f"the file expands to more than {MAX_VALUES:,} values (aliases re-used "
                "inside aliases)",
                node.start_mark,
            )
        return total

    def build(self, node: yaml.Node, path: Loc) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if id(node) in self.memo:  # an alias: the anchor's object, built once
            return self.memo[id(node)]
        if isinstance(node, yaml.MappingNode):
            out: Any = self._mapping(node, path)
        elif isinstance(node, yaml.SequenceNode):
            out = [self._child(item, (*path, i)) for i, item in enumerate(node.value)]
        else:
            out = self._scalar(node)
        self.memo[id(node)] = out
        return out

    def _child(self, node: yaml.Node, path: Loc) -> Any:
        self.lines[path] = node.start_mark.line + 1
        return self.build(node, path)

    def _mapping(self, node: yaml.MappingNode, path: Loc) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = self._scalar(key_node)
            if isinstance(key, list | dict):
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be a plain value, not a list or mapping",
                    key_node.start_mark,
                )  # fmt: skip
            if key in out:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}'", key_node.start_mark
                )
            child = (*path, key)
            self.lines[child] = key_node.start_mark.line + 1  # the key's line, not its value's
            out[key] = self.build(value_node, child)
        return out

    def _scalar(self, node: yaml.Node) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except ValueError as exc:  # e.g. an impossible date such as 2025-13-01
            raise yaml.constructor.ConstructorError(
                None, None, f"'{node.value}' is not a valid value ({exc})", node.start_mark
            ) from exc


class _Limit(yaml.MarkedYAMLError):
    """A file beyond MAX_DEPTH or MAX_VALUES (reported like a syntax error, with its line)."""

    def __init__(self, problem: str, mark: yaml.Mark) -> None:
        super().__init__(problem=problem, problem_mark=mark)


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
            data = None
            if node is not None:
                builder = _Builder(loader, lines)
                builder.size(node)
                data = builder.build(node, ())
        finally:
            loader.dispose()
    except RecursionError:  # PyYAML composes nested nodes recursively
        raise ConfigError(
            f"not valid YAML: nested more than {MAX_DEPTH} levels deep.",
            file=source,
            fix="flatten the file; no careis file needs more than a few levels.",
        ) from None
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
                else "write each value out once, without nesting aliases."
                if isinstance(exc, _Limit)
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
