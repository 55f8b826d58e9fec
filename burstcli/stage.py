"""The stage contract: a named function from :class:`~burstcli.model.Burst` to Burst.

A stage is written as a plain function with a docstring, and its parameters as a frozen
dataclass whose fields carry defaults, help text and the values they accept::

    @dataclasses.dataclass(frozen=True)
    class LaplacianParams:
        crop: float = param(1.0, "fraction of the frame (centred) that is scored",
                            above=0, high=1)

    @stage("score.laplacian", LaplacianParams, needs=("pixels",), provides=("scores",))
    def laplacian(burst: Burst, params: LaplacianParams) -> Burst:
        '''Score each frame by the variance of its Laplacian (000 [0055]).'''
        ...

A plugin hands it to the core from its ``register_stages`` hook: ``register(laplacian)``.
Presets and ``--set`` fill the parameters; :meth:`StageSpec.make_params` validates them
(type, then range, choices or check), and the preset loader checks the pipeline's order
against what each stage ``needs`` and ``provides`` (:data:`CAPABILITIES`), all before any
file is read.

The runner times each stage call and measures its peak memory; a stage that works frame by
frame reports each frame's time with :func:`burstcli.profiling.frame_timer` (``with
frame_timer().time(frame): ...``) for the sidecar and ``burst enhance --profile``.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .errors import ConfigError
from .model import Burst

StageFunc = Callable[[Burst, Any], Burst]
Check = Callable[[Any], str | None]  # an error text, or None when the value is fine

#: What a stage can need from the stages before it, and provide to those after it. Fixed,
#: so that a typo in a declaration fails at import instead of silently never matching.
CAPABILITIES: dict[str, str] = {
    "pixels": "decoded frames",
    "scores": "a sharpness score per frame",
    "reference": "a reference frame",
    "registered": "frames registered to the reference",
    "developed": "frames developed from RAW to RGB",
    "window": "frames cut to a zoom's window",
    "image": "an image merged or zoomed from the frames",
}


@dataclasses.dataclass(frozen=True)
class Constraint:
    """The values a parameter accepts beyond its type.

    ``low``/``high`` are inclusive bounds, ``above``/``below`` exclusive ones; ``odd`` asks
    for an odd integer; ``choices`` is a finite set; ``check`` is a function returning an
    error text (or None when the value is fine), its docstring's first line describing the
    rule. Numbers of a tuple are checked one by one; None, bools and strings skip the
    numeric rules (their type or ``Literal`` already says what they may be); a bounded
    number must be finite.
    """

    low: float | None = None
    high: float | None = None
    above: float | None = None
    below: float | None = None
    odd: bool = False
    choices: tuple[Any, ...] | None = None
    check: Check | None = None
    model_task: str | None = None

    def describe(self) -> str:
        """The rule as ``burst stages`` shows it, e.g. ``in (0, 1]`` or ``>= 1, odd``."""
        parts = []
        lower = (f"[{_num(self.low)}" if self.low is not None
                 else f"({_num(self.above)}" if self.above is not None else None)
        upper = (f"{_num(self.high)}]" if self.high is not None
                 else f"{_num(self.below)})" if self.below is not None else None)
        if lower and upper:
            parts.append(f"in {lower}, {upper}")
        elif lower:
            parts.append((">= " if self.low is not None else "> ") + lower[1:])
        elif upper:
            parts.append(("<= " if self.high is not None else "< ") + upper[:-1])
        if self.odd:
            parts.append("odd")
        if self.choices is not None:
            parts.append("one of " + ", ".join(map(str, self.choices)))
        if self.check is not None:
            doc = inspect.getdoc(self.check) or ""
            parts.append(doc.splitlines()[0].rstrip(".") if doc else self.check.__name__)
        if self.model_task is not None:
            parts.append(f"a {self.model_task} model: a name `burst models` lists, or a .tflite "
                         "path with its .json")
        return ", ".join(parts)

    def error(self, value: Any) -> str | None:
        """Why ``value`` (already of the right type) breaks the rule, or None."""
        if isinstance(value, tuple):
            for item in value:
                problem = self.error(item)
                if problem:
                    return problem
            return None
        if self.choices is not None and value not in self.choices:
            return f"must be one of {', '.join(map(str, self.choices))} (got {_short(value)})"
        rule = self.describe_bounds()
        if _is_number(value) and rule:
            # NaN compares False with every bound, so it would pass them all unchecked.
            if not math.isfinite(value):
                return f"must be {rule} (got {value!r})"
            if ((self.low is not None and value < self.low)
                    or (self.high is not None and value > self.high)
                    or (self.above is not None and value <= self.above)
                    or (self.below is not None and value >= self.below)):
                return f"must be {rule} (got {value!r})"
        if self.odd and _is_number(value) and (not isinstance(value, int) or value % 2 == 0):
            return f"must be odd (got {value!r})"
        if self.check is not None and value is not None:
            return self.check(value)
        return None

    def describe_bounds(self) -> str:
        """The numeric part of :meth:`describe` alone."""
        return Constraint(self.low, self.high, self.above, self.below).describe()

    def __bool__(self) -> bool:
        return any(v is not None for v in (self.low, self.high, self.above, self.below,
                                           self.choices, self.check, self.model_task)
                   ) or self.odd


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _num(value: float | None) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def param(default: Any, help: str, *,  # noqa: A002 - mirrors click's wording
          low: float | None = None, high: float | None = None,
          above: float | None = None, below: float | None = None, odd: bool = False,
          choices: Sequence[Any] | None = None, check: Check | None = None,
          model_task: str | None = None) -> Any:
    """A dataclass field with a default, the help text ``burst stages NAME`` prints, and the
    values it accepts beyond its type (see :class:`Constraint`).

    ``low``/``high``: inclusive bounds; ``above``/``below``: exclusive ones ("> 0");
    ``odd``: an odd integer; ``choices``: a finite set; ``check``: ``f(value) -> error text
    or None`` (its docstring's first line says the rule), for what bounds cannot say (a
    syntax, a file that must exist; import only lightweight things in it, it runs on every
    preset load). Every first-party parameter that is not a bool or a ``Literal`` declares
    one of these, and its default must pass it.
    """
    if isinstance(default, (list, dict, set)):
        raise TypeError("stage parameters must be immutable: use a tuple")
    if low is not None and above is not None or high is not None and below is not None:
        raise TypeError("give low or above, high or below, not both")
    constraint = Constraint(low, high, above, below, odd,
                            tuple(choices) if choices is not None else None, check, model_task)
    return dataclasses.field(default=default, metadata={"help": help, "constraint": constraint})


@dataclasses.dataclass(frozen=True)
class NoParams:
    """The parameters of a stage that takes none."""


@dataclasses.dataclass(frozen=True)
class ParamInfo:
    """One parameter as ``burst stages`` shows it; ``range`` is its rule ("" if none)."""

    name: str
    type: str
    default: Any
    help: str
    range: str = ""


@dataclasses.dataclass(frozen=True)
class StageSpec:
    """A registered stage: its name, function, parameter class and documentation.

    ``needs`` and ``provides`` are capabilities (:data:`CAPABILITIES`); ``before`` those that
    must not be provided yet when it runs. All None/empty: the stage declared nothing and
    the pipeline order is not checked for it.
    """

    name: str
    func: StageFunc
    params_type: type = NoParams
    plugin: str | None = None
    needs: tuple[str, ...] | None = None
    provides: tuple[str, ...] | None = None
    before: tuple[str, ...] = ()

    def __call__(self, burst: Burst, params: Any) -> Burst:
        return self.func(burst, params)

    @property
    def declared(self) -> bool:
        """Whether the stage declared what it needs and provides (else it is not checked)."""
        return self.needs is not None or self.provides is not None

    @property
    def doc(self) -> str:
        """The stage function's docstring, dedented."""
        return inspect.getdoc(self.func) or ""

    @property
    def summary(self) -> str:
        """The first line of the docstring."""
        return self.doc.splitlines()[0] if self.doc else ""

    def constraints(self) -> dict[str, Constraint]:
        """Each parameter's :class:`Constraint` (empty when it declared none)."""
        return {f.name: f.metadata.get("constraint", Constraint())
                for f in dataclasses.fields(self.params_type)}

    def params_info(self) -> list[ParamInfo]:
        """Each parameter with its type, default, help and range."""
        hints = typing.get_type_hints(self.params_type)
        rules = self.constraints()
        return [
            ParamInfo(f.name, _type_name(hints[f.name]), f.default, f.metadata.get("help", ""),
                      rules[f.name].describe())
            for f in dataclasses.fields(self.params_type)
        ]

    def make_params(self, values: Mapping[str, Any], source: str = "") -> Any:
        """Validate ``values`` against the parameter class and build an instance.

        Raises :class:`ConfigError` naming ``source`` and ``stage.param`` on an unknown name
        (with a did-you-mean), a value of the wrong type, one outside its range, choices or
        check, or one the class's own ``__post_init__`` refuses (a ``ValueError``,
        ``TypeError`` or ``ConfigError`` there becomes one line naming the stage).
        """
        hints = typing.get_type_hints(self.params_type)
        rules = self.constraints()
        checked = {}
        for key, value in values.items():
            dotted = f"{self.name}.{key}"
            if key not in rules:
                raise ConfigError(f"unknown parameter{_did_you_mean(key, list(rules))}",
                                  source=source, key=dotted)
            checked[key] = coerce(value, hints[key], source=source, key=dotted)
            problem = rules[key].error(checked[key])
            if problem:
                raise ConfigError(problem, source=source, key=dotted)
        try:
            return self.params_type(**checked)
        except ConfigError as exc:
            if exc.source is not None:
                raise
            # A plugin's cross-field check (e.g. two bands in order) knows its key, not the
            # file or --set the values came from.
            text = str(exc)
            text = text[len(exc.key) + 2:] if exc.key and text.startswith(exc.key + ": ") else text
            raise ConfigError(text, source=source, key=exc.key or self.name) from None
        except (ValueError, TypeError) as exc:
            raise ConfigError(_one_line(str(exc)) or type(exc).__name__, source=source,
                              key=self.name) from None


def stage(name: str, params: type = NoParams, *, needs: Sequence[str] | None = None,
          provides: Sequence[str] | None = None,
          before: Sequence[str] = ()) -> Callable[[StageFunc], StageSpec]:
    """Decorate a function ``(burst, params) -> burst`` to make it a stage called ``name``.

    ``needs``: the capabilities (:data:`CAPABILITIES`) some earlier stage of the pipeline
    must provide, e.g. a merge needs ``("registered", "reference")``; ``provides``: those
    this stage adds, e.g. ``decode`` provides ``("pixels",)``; ``before``: capabilities that
    must not be there yet (``zoom.window`` cuts frames, so it goes before registration).
    Loading a preset checks the pipeline in order and names the first stage whose need no
    earlier stage provides, before any file is read.

    A stage that declares neither ``needs`` nor ``provides`` (a plugin written before they
    existed) is not checked, and stages after it are assumed to get whatever they need
    from it: declaring is optional and never makes an older plugin's preset fail. A stage
    that needs nothing but should still be checked declares ``needs=()``.
    """
    if not dataclasses.is_dataclass(params):
        raise TypeError(f"stage {name!r}: params must be a dataclass, got {params!r}")
    for capability in (*(needs or ()), *(provides or ()), *before):
        if capability not in CAPABILITIES:
            raise TypeError(f"stage {name!r}: unknown capability {capability!r}; one of "
                            f"{', '.join(CAPABILITIES)}")
    declared = needs is not None or provides is not None

    def wrap(func: StageFunc) -> StageSpec:
        if not inspect.getdoc(func):
            raise TypeError(f"stage {name!r} needs a docstring: `burst stages` prints it")
        return StageSpec(name=name, func=func, params_type=params,
                         needs=tuple(needs or ()) if declared else None,
                         provides=tuple(provides or ()) if declared else None,
                         before=tuple(before))

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
        # True == 1: a bool only matches a Literal that lists bools
        is_bool = isinstance(value, bool) and not any(isinstance(a, bool) for a in args)
        if value in args and not is_bool:
            return value
        raise ConfigError(f"{_short(value)} is not one of {', '.join(map(repr, args))}"
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
    return ConfigError(f"expected {_type_name(annotation)}, got {_short(value)}",
                       source=source, key=key)


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to one short line: the user's value is echoed, never a page of it."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


did_you_mean = _did_you_mean
