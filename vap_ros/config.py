"""One config style for the whole package: strict dataclasses and YAML presets.

Every configuration (rig, clip, training and its sections, world model, simulated scene) is a
dataclass deriving from :class:`StrictConfig`. Its field annotations are the schema; each
instance is checked in ``__post_init__``, so every way of making one (the constructor,
``from_dict``, ``dataclasses.replace``, the dotted-key ``replace``) is validated:

* ``int``: an integer, never a bool; ``float``: an integer or float, finite, never a bool;
  ``bool``: true/false only; ``str``; ``None`` where the annotation allows it;
* ``Literal["a", "b"]``: one of those values;
* ``tuple[int, int]`` / ``tuple[str, ...]`` / ``list[int]``: a list or tuple of those
  (stored as a tuple/list); ``dict`` / ``dict[str, str]``: a mapping;
* a ``StrictConfig`` subclass: a nested section, given as a mapping (unknown keys refused);
* ``Annotated[T, convert]``: ``convert(value)`` first (e.g. a single topic -> a tuple), then T;
* ``Any``: anything (the subclass's ``check`` does the rest).

Cross-field rules live in the subclass's ``check()``. Errors are :class:`ConfigError` with the
dotted key (``clip.frames``), the value and what was expected, as attributes and in the message.

:class:`Presets` finds the YAML presets a subpackage ships (``<package>/presets/<name>.yaml``)
and reads a preset by name or any YAML/JSON file by path.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import types
import typing
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, TypeVar, Union

from vap_ros.errors import ConfigError

__all__ = ["ConfigFile", "Presets", "StrictConfig", "coerce", "read_config_file", "require"]

C = TypeVar("C", bound="StrictConfig")
CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


def require(ok: bool, key: str | None, value: Any, expected: str) -> None:
    """Raise ``ConfigError(key=, value=, expected=)`` unless ``ok``."""
    if not ok:
        raise ConfigError(key=key, value=value, expected=expected)


# ---------------------------------------------------------------------------- values
def _is_bool(value: Any) -> bool:
    import numpy as np

    return isinstance(value, (bool, np.bool_))


def _strict_config(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, StrictConfig)


def describe(hint: Any) -> str:
    """What an annotation accepts, in words (for error messages)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return "any value"
    if origin is Annotated:
        return describe(args[0])
    if origin in (Union, types.UnionType):
        return " or ".join(describe(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if hint is type(None):
        return "null"
    if hint is bool:
        return "true or false"
    if hint is int:
        return "an integer"
    if hint is float:
        return "a finite number"
    if hint is str:
        return "a string"
    if _strict_config(hint):
        return f"a mapping of {hint.__name__} settings"
    if hint in (dict, Mapping) or origin in (dict, Mapping):
        return "a mapping"
    if hint in (tuple, list) or origin in (tuple, list):
        if (len(args) == 2 and args[1] is Ellipsis) or (origin is list and args):
            return f"a list, each {describe(args[0])}"
        if args:
            return f"a list of {len(args)}: {', '.join(describe(a) for a in args)}"
        return "a list"
    return getattr(hint, "__name__", str(hint))


def coerce(value: Any, hint: Any, key: str | None) -> Any:
    """``value`` checked against the annotation ``hint`` (see the module docstring) and
    normalised (ints to floats for float fields, lists to tuples, mappings to sections).

    Raises:
        ConfigError: naming ``key`` (elements as ``key[i]``, entries as ``key.name``).
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)

    def bad() -> ConfigError:
        return ConfigError(key=key, value=value, expected=describe(hint))

    if hint is Any:
        return value
    if origin is Annotated:
        for convert in args[1:]:
            if callable(convert):
                value = convert(value)
        return coerce(value, args[0], key)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:  # Optional[X]: X's own, more precise error
            return coerce(value, options[0], key)
        for option in options:
            try:
                return coerce(value, option, key)
            except ConfigError:
                continue
        raise bad()
    if origin is Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return value
        raise bad()
    if hint is type(None):
        if value is None:
            return None
        raise bad()
    if hint is bool:
        if _is_bool(value):
            return bool(value)
        raise bad()
    if hint is int:
        if isinstance(value, numbers.Integral) and not _is_bool(value):
            return int(value)
        raise bad()
    if hint is float:
        if isinstance(value, numbers.Real) and not _is_bool(value) and math.isfinite(value):
            return float(value)
        raise bad()
    if hint is str:
        if isinstance(value, str):
            return value
        raise bad()
    if _strict_config(hint):
        if isinstance(value, hint):
            return value
        if not isinstance(value, Mapping):
            raise bad()
        try:
            return hint.from_dict(value)
        except ConfigError as err:
            err.within(key)
            raise
    if hint in (dict, Mapping) or origin in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise bad()
        if not args:
            return dict(value)
        return {coerce(k, args[0], key): coerce(v, args[1], f"{key}.{k}")
                for k, v in value.items()}
    if hint in (tuple, list) or origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise bad()
        kind = list if (hint is list or origin is list) else tuple
        if origin is list or (args and args[-1] is Ellipsis):
            items = [coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value)]
        elif args:
            if len(value) != len(args):
                raise bad()
            pairs = enumerate(zip(value, args, strict=True))
            items = [coerce(v, a, f"{key}[{i}]") for i, (v, a) in pairs]
        else:
            items = list(value)
        return kind(items)
    if isinstance(hint, type) and isinstance(value, hint):
        return value
    raise bad()


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """The resolved field annotations of a config class (computed once per class)."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls, include_extras=True)
    return _HINTS[cls]


def _plain(value: Any) -> Any:
    """Plain YAML/JSON data: sections to dicts, tuples to lists."""
    if isinstance(value, StrictConfig):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------------- configs
class StrictConfig:
    """Base of every config dataclass (see the module docstring).

    Subclasses are ``@dataclass`` (usually ``frozen=True``) and put their cross-field rules in
    ``check()``; they do not define ``__post_init__``.
    """

    def __post_init__(self) -> None:
        hints = _hints(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = coerce(getattr(self, f.name), hints[f.name], f.name)
            object.__setattr__(self, f.name, value)  # frozen dataclasses too
        self.check()

    def check(self) -> None:
        """Cross-field rules; raise ``ConfigError`` (``require``) naming the key."""

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]

    @classmethod
    def check_keys(cls, data: Mapping[str, Any]) -> None:
        """Refuse keys that are not fields of ``cls`` (naming the first, with its value)."""
        names = cls.field_names()
        unknown = [k for k in data if k not in names]
        if unknown:
            more = f" (also unknown: {', '.join(map(str, unknown[1:]))})" if unknown[1:] else ""
            raise ConfigError(f"unknown key{more}; expected one of {', '.join(names)}",
                              key=str(unknown[0]), value=data[unknown[0]])

    @classmethod
    def check_values(cls, data: Mapping[str, Any]) -> None:
        """Check some fields' values (keys and types, no cross-field rules), e.g. overrides
        that are applied to a config loaded later."""
        cls.check_keys(data)
        hints = _hints(cls)
        for k, v in data.items():
            coerce(v, hints[k], str(k))

    @classmethod
    def from_dict(cls: type[C], data: Any, *, source: str | None = None) -> C:
        """Build from plain data (a parsed YAML/JSON mapping).

        Raises:
            ConfigError: not a mapping, an unknown or missing key, a wrong type or value; its
                ``key`` is the dotted path and ``source`` the given source.
        """
        try:
            if not isinstance(data, Mapping):
                raise ConfigError(f"expected a mapping of {cls.__name__} settings, got "
                                  f"{type(data).__name__}", value=data)
            cls.check_keys(data)
            missing = [f.name for f in dataclasses.fields(cls)  # type: ignore[arg-type]
                       if f.name not in data and f.default is dataclasses.MISSING
                       and f.default_factory is dataclasses.MISSING]
            if missing:
                raise ConfigError(f"missing (required: {', '.join(missing)})", key=missing[0])
            return cls(**data)
        except ConfigError as err:
            err.within(source=source)
            raise

    def to_dict(self) -> dict[str, Any]:
        """Plain data that ``from_dict`` turns back into an equal config."""
        return {f.name: _plain(getattr(self, f.name))
                for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def replace(self: C, **changes: Any) -> C:
        """A validated copy with dotted keys replaced: ``replace(**{"optim.lr": 1e-3})``.

        Raises:
            ConfigError: an unknown key (at any level) or an invalid value.
        """
        d = self.to_dict()
        for dotted, value in changes.items():
            node = d
            *parents, leaf = dotted.split(".")
            for i, p in enumerate(parents):
                if not isinstance(node.get(p), dict):
                    where = ".".join(parents[:i + 1])
                    known = "unknown key" if p not in node else "not a section"
                    raise ConfigError(f"{known} {where!r}", key=dotted, value=value)
                node = node[p]
            node[leaf] = value
        return type(self).from_dict(d)


# ---------------------------------------------------------------------------- files, presets
def read_config_file(path: str | Path, what: str = "config") -> dict[str, Any]:
    """The mapping in a YAML (or JSON) file.

    Raises:
        ConfigError: missing or unreadable file, invalid syntax, an empty file, or a top level
            that is not a mapping (``source`` is the path).
    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{what} file {str(p)!r} does not exist")
    kind = "JSON" if p.suffix == ".json" else "YAML"
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read the {what} file: {err}", source=str(p)) from err
    try:
        data = json.loads(text) if kind == "JSON" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as err:
        raise ConfigError(f"invalid {kind}: {err}", source=str(p)) from err
    if data is None:
        raise ConfigError(f"the {what} file is empty (write the settings that differ from the "
                          "defaults, or use a preset)", source=str(p))
    if not isinstance(data, dict):
        raise ConfigError(f"a {what} file must hold a mapping at the top level, not "
                          f"{type(data).__name__}", source=str(p))
    return data


class ConfigFile(NamedTuple):
    """A preset or config file's settings and where they came from."""

    data: dict[str, Any]
    source: str  # "rig preset 'sim'" or the path, for messages
    path: Path | None  # the file, when given by path (relative paths inside resolve against it)


class Presets:
    """The YAML presets a subpackage ships in ``<package>/presets/``.

    Args:
        package: e.g. ``"vap_ros.data"``.
        what: a name for messages (``"rig"``, ``"training"``, ``"world model"``, ``"robot"``).
    """

    def __init__(self, package: str, what: str):
        self.package, self.what = package, what

    def _root(self):
        return resources.files(self.package) / "presets"

    def names(self) -> list[str]:
        """The preset names, sorted."""
        return sorted(p.name[:-5] for p in self._root().iterdir() if p.name.endswith(".yaml"))

    @staticmethod
    def is_path(name_or_path: str | Path) -> bool:
        """A ``Path``, a name ending in .yaml/.yml/.json or holding a '/' is a file path."""
        s = str(name_or_path)
        return isinstance(name_or_path, Path) or s.endswith(CONFIG_SUFFIXES) or "/" in s

    def load(self, name_or_path: str | Path) -> ConfigFile:
        """Read a preset by name or a file by path; a top-level ``notes`` entry is dropped.

        Raises:
            ConfigError: an unknown name (the available ones listed), or see
                ``read_config_file``.
        """
        if self.is_path(name_or_path):
            path = Path(name_or_path).expanduser()
            data = read_config_file(path, f"{self.what} config")
            source = str(path)
        else:
            name = str(name_or_path)
            res = self._root() / f"{name}.yaml"
            if not name or not res.is_file():
                raise ConfigError(f"unknown {self.what} preset {name!r}; available: "
                                  f"{self.names()} (or a path to a YAML file)", value=name)
            with resources.as_file(res) as file:
                data = read_config_file(file, f"{self.what} preset")
            path, source = None, f"{self.what} preset {name!r}"
        data.pop("notes", None)
        return ConfigFile(data, source, path)
