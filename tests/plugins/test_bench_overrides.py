"""`burst bench merge/upscale --set`: each preset gets the overrides of the stages it has."""

from __future__ import annotations

import pytest

from burst_bench.merge_bench import preset_processors
from burstcli.errors import ConfigError


def test_an_override_goes_to_the_presets_that_have_its_stage(monkeypatch):
    import burst_bench.merge_bench as merge_bench
    given = []
    real = merge_bench.JobSpec
    monkeypatch.setattr(merge_bench, "JobSpec",
                        lambda preset, overrides, fmt: given.append((preset, overrides))
                        or real(preset, overrides, fmt))
    processors = preset_processors(["upscale2x", "upscale2x-classical"],
                                   ["zoom.network.model=x2_real"])
    learned = processors["upscale2x"].preset.steps
    assert any(step.stage == "zoom.network" and step.params.model == "x2_real"
               for step in learned)
    # the classical preset was built without the override (it would refuse it)
    assert ("upscale2x-classical", ()) in given
    assert ("upscale2x-classical", ("zoom.network.model=x2_real",)) not in given


def test_an_override_no_preset_takes_is_an_error():
    with pytest.raises(ConfigError, match="deblur.network"):
        preset_processors(["upscale2x", "upscale2x-classical"], ["deblur.network.tile=64"])
