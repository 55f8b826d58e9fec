"""The stage contract: a named function from :class:`~burstcli.model.Burst` to Burst.

A stage is written as a plain function with a docstring, and its parameters as a frozen
dataclass whose fields carry defaults and help text::

    @dataclasses.dataclass(frozen=True)
    class LaplacianParams:
        crop: float = param(1.0, "fraction of the frame (centred) that is scored")

    @stage("score.laplacian", LaplacianParams)
    def laplacian(burst: Burst, params: LaplacianParams) -> Burst:
        '''Score each frame by the variance of its Laplacian (000 [0055]).'''
        ...

A plugin hands it to the core from its ``register_stages`` hook: ``register(laplacian)``.
Presets and ``--set`` fill the parameters; :meth:`StageSpec.make_params` validates them.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from .errors import ConfigError
from .model import Burst

StageFunc = Callable[[Burst, Any], Burst]


def param(default: Any, help: str) -> Any:  # noqa: A002 - mirrors click's wording
    """A dataclass field with a default and the help text ``burst stages NAME`` prints."""
    if isinstance(default, (list, dict, set)):
        raise TypeError("stage parameters must be immutable: use a tuple")
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass(frozen=True)
class NoParams:
    """The parameters of a stage that takes none."""


@dataclasses.dataclass(frozen=True)
class ParamInfo:
    """One parameter as ``burst stages`` shows it."""

    name: str
    type: str
    default: Any
    help: str


@dataclasses.dataclass(frozen=True)
class StageSpec:
    """A registered stage: its name, function, parameter class and documentation."""

    name: str
    func: StageFunc
    params_type: type = NoParams
    plugin: str | None = None

    def __call__(self, burst: Burst, params: Any) -> Burst:
        return self.func(burst, params)

    @property
    def doc(self) -> str:
        """The stage function's docstring, dedented."""
        return inspect.getdoc(self.func) or ""

    @property
    def summary(self) -> str:
        """The first line of the docstring."""
        return self.doc.splitlines()[0] if self.doc else ""

    def params_info(self) -> list[ParamInfo]:
        """Each parameter with its type, default and help."""
        hints = typing.get_type_hints(self.params_type)
        return [
            ParamInfo(f.name, _type_name(hints[f.name]), f.default, f.metadata.get("help", ""))
            for f in dataclasses.fields(self.params_type)
        ]

    def make_params(self, values: Mapping[str, Any], source: str = "") -> Any:
        """Validate ``values`` against the parameter class and build an instance.

        Raises :class:`ConfigError` naming ``source`` and ``stage.param`` on an unknown name
        (with a did-you-mean) or a value of the wrong type.
        """
        hints = typing.get_type_hints(self.params_type)
        known = [f.name for f in dataclasses.fields(self.params_type)]
        checked = {}
        for key, value in values.items():
            dotted = f"{self.name}.{key}"
            if key not in known:
                raise ConfigError(f"unknown parameter{_did_you_mean(key, known)}",
                                  source=source, key=dotted)
            checked[key] = coerce(value, hints[key], source=source, key=dotted)
        return self.params_type(**checked)


def stage(name: str, params: type = NoParams) -> Callable[[StageFunc], StageSpec]:
    """Decorate a function ``(burst, params) -> burst`` to make it a stage called ``name``."""
    if not dataclasses.is_dataclass(params):
        raise TypeError(f"stage {name!r}: params must be a dataclass, got {params!r}")

    def wrap(func: StageFunc) -> StageSpec:
        if not inspect.getdoc(func):
            raise TypeError(f"stage {name!r} needs a docstring: `burst stages` prints it")
        return StageSpec(name=name, func=func, params_type=params)

    return wrap


def coerce(value: Any, annotation: Any, *, source: str = "", key: str = "") -> Any:
    """Check ``value`` against a type annotation, converting only where it is lossless.

    Supports bool, int, float (ints accepted), str, Literal, unions/Optional and
    ``tuple[X, ...]`` (YAML lists become tuples).
    """
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        for option in args:
            try:
                return coerce(value, option, source=source, key=key)
            except ConfigError:
                continue
        raise _type_error(value, annotation, source, key)
    if origin is typing.Literal:
        if value in args:
            return value
        raise ConfigError(f"{value!r} is not one of {', '.join(map(repr, args))}"
                          f"{_did_you_mean(str(value), [str(a) for a in args])}",
                          source=source, key=key)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise _type_error(value, annotation, source, key)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0], source=source, key=key) for v in value)
        if len(args) != len(value):
            raise _type_error(value, annotation, source, key)
        return tuple(coerce(v, a, source=source, key=key) for v, a in zip(value, args))
    return _coerce_scalar(value, annotation, source, key)


def _coerce_scalar(value: Any, annotation: Any, source: str, key: str) -> Any:
    if annotation is type(None) and value is None:
        return None
    if annotation is bool and isinstance(value, bool):
        return value
    if annotation is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if annotation is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if annotation is str and isinstance(value, str):
        return value
    if annotation is Any:
        return value
    raise _type_error(value, annotation, source, key)


def _type_error(value: Any, annotation: Any, source: str, key: str) -> ConfigError:
    return ConfigError(f"expected {_type_name(annotation)}, got {value!r}", source=source, key=key)


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


did_you_mean = _did_you_mean
