"""Models as a registered kind of thing: a :class:`ModelCard` says what a network file is.

Plugins register their shipped models through the ``register_models`` hook; ``burst models``
lists them; a stage parameter declared with ``param(..., model_task="deblur")`` takes the name
of a registered model of that task (or the path of a ``.tflite`` with its ``.json`` card beside
it), and a preset naming anything else fails when it is loaded, before any file is read.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: Keys of a ``.json`` card every model has; the rest are its training facts.
CARD_KEYS = ("task", "scale", "planes")


@dataclasses.dataclass(frozen=True)
class ModelCard:
    """A network file and what it is for.

    ``name``: how presets name it (unique among registered models); ``task``: what it does
    (``zoom``, ``deblur``, ...: a stage's parameter accepts models of its task only);
    ``file``: the ``.tflite``; ``scale``: output pixels per input pixel along each axis;
    ``planes``: what it reads and writes (``y``: BT.601 luma of gamma-encoded RGB, ``rgb``);
    ``facts``: the rest of its ``.json`` card (parameters, training steps, data);
    ``document``: its human-readable model card (``.md``), when there is one.
    """

    name: str
    task: str
    file: Path
    scale: int = 1
    planes: str = "y"
    facts: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    document: Path | None = None
    plugin: str = ""

    @classmethod
    def from_file(cls, name: str, file: Path) -> ModelCard:
        """The card of ``file`` (a ``.tflite``) from the ``.json`` beside it (task, scale,
        planes and facts) and the ``.md`` beside it, if any. Raises ``ValueError`` when the
        ``.json`` is missing or says no task."""
        file = Path(file)
        card = file.with_suffix(".json")
        if not card.is_file():
            raise ValueError(f"{file}: no .json card beside it ({card.name})")
        facts = json.loads(card.read_text())
        if not isinstance(facts, dict) or "task" not in facts:
            raise ValueError(f"{card}: a model card needs a 'task'")
        document = file.with_suffix(".md")
        return cls(name, str(facts["task"]), file, int(facts.get("scale", 1)),
                   str(facts.get("planes", "y")),
                   {k: v for k, v in facts.items() if k not in CARD_KEYS},
                   document if document.is_file() else None)

    def describe(self) -> str:
        """One line: task, scale, planes, parameters."""
        params = self.facts.get("parameters")
        size = f", {params:,} parameters" if isinstance(params, int) else ""
        return f"{self.task} x{self.scale}, {self.planes}{size}: {self.file}"


def resolve_model(value: str, task: str, models: Mapping[str, ModelCard]) -> ModelCard | str:
    """The card ``value`` names for ``task`` (a registered name, or a ``.tflite`` path with its
    ``.json``), or the reason it names none (one line, listing the registered names)."""
    card = models.get(value)
    if card is not None:
        if card.task == task:
            return card
        return f"model {value!r} is a {card.task} model, not a {task} one"
    if value.endswith(".tflite") or "/" in value:
        try:
            found = ModelCard.from_file(Path(value).stem, Path(value))
        except (OSError, ValueError) as exc:
            return str(exc) if Path(value).is_file() else f"no model file {value}"
        if found.task != task:
            return f"{value} is a {found.task} model, not a {task} one"
        return found
    names = sorted(name for name, c in models.items() if c.task == task)
    return (f"no {task} model {value!r}: {', '.join(names) or 'none registered'}, "
            "or the path of a .tflite with its .json")
