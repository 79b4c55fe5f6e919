"""Each choice list and default is defined once (vs_zstsr/methods.py, vs_zstsr/options.py,
vs_zstsr/netrun.py): no other runtime file restates the method, provider or ensemble lists, and
the command line, the filter and the docs take theirs from there."""
import inspect
import itertools
import re
from pathlib import Path

import pytest

from vs_zstsr import methods, netrun, options

PKG = Path(methods.__file__).parent
DEFINED_IN = {"methods.py", "options.py", "netrun.py",
              "resample.py",    # resample.KERNELS: the interpolation kernels, a list of their own
              "baselines.py"}   # baselines.METHODS: the peers measured against, a list of their own


def _stray(words) -> re.Pattern:
    """Two of ``words`` written one after the other as a literal list: '"cubic", "linear"'."""
    alt = "|".join(map(re.escape, words))
    return re.compile(rf"""["']({alt})["']\s*,\s*["']({alt})["']""")


@pytest.mark.parametrize("name, words", [("method", methods.CHOICES), ("provider", options.PROVIDERS)])
def test_no_stray_literal_of_a_choice_list(name, words):
    pattern = _stray(words)
    found = [f"{p.name}:{i}: {line.strip()}"
             for p in sorted(PKG.rglob("*.py")) + sorted(PKG.rglob("*.c")) if p.name not in DEFINED_IN
             for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not found, f"the {name} list restated (use vs_zstsr.{'methods' if name == 'method' else 'options'}):\n" \
                      + "\n".join(found)


def test_no_stray_literal_of_the_ensemble_sizes():
    sizes = re.compile(r"(?<![\d.])" + r",\s*".join(map(str, netrun.ENSEMBLE_SIZES)) + r"\b")
    found = [f"{p.name}:{i}" for p in PKG.rglob("*.py") if p.name not in DEFINED_IN
             for i, line in enumerate(p.read_text().splitlines(), 1) if sizes.search(line)]
    assert not found, found


def test_the_cli_and_the_filter_take_choices_and_defaults_from_the_options():
    import click

    from vs_zstsr.cli import _PARAM as cli_param
    from vs_zstsr.cli import main

    vs = pytest.importorskip("vapoursynth")  # noqa: F841
    from vs_zstsr import filter as F

    up = {p.name: p for p in main.commands["upsample"].params}
    sig = inspect.signature(F.upsample).parameters
    doc = F.upsample.__doc__
    fields = itertools.chain(options.option_fields(options.EngineOptions), options.option_fields(options.TrainOptions),
                             options.option_fields(options.UpsampleOptions))
    for f in fields:
        name = cli_param.get(f.name, f.name)   # the click parameter's name (cli._PARAM)
        if name in up:        # the command line: same default, same choices
            p = up[name]
            want = None if f.default is None else (str(f.default) if f.metadata["choices"] else f.default)
            assert p.default == want, f.name
            if f.metadata["choices"]:
                assert isinstance(p.type, click.Choice) and list(p.type.choices) == [str(c) for c in f.metadata["choices"]]
        if f.name in sig:     # the filter: same default, documented
            assert sig[f.name].default == f.default, f.name
            assert f":param {f.name}:" in doc, f.name
    assert {"method", "provider", "ensemble", "tilesize", "overlap", "device_id", "fp16", "finetune"} <= set(sig)
    assert up["method"].type.choices == list(methods.CHOICES) or tuple(up["method"].type.choices) == methods.CHOICES


def test_the_presets_and_example_kinds_are_the_trainers():
    trainer = pytest.importorskip("zstsr_trainer")
    assert sorted(trainer.PRESETS) == sorted(options.PRESETS)
    from zstsr_trainer import config

    assert tuple(config.EXAMPLE_KINDS) == options.EXAMPLE_KINDS
    assert {name: c.padding for name, c in trainer.PRESETS.items()} == options.PRESET_PADDING


def _another(f):
    """A valid value of option field ``f`` other than its default."""
    md = f.metadata
    if isinstance(f.default, bool):
        return not f.default
    if md["choices"]:
        # the last one: the filter reads ensemble 0/1 as off/on (vs_zstsr/filter.py, _ensemble)
        return next(c for c in reversed(md["choices"]) if c != f.default and c != "auto")
    if isinstance(f.default, float):
        return 0.5 if f.default != 0.5 else 0.25
    if isinstance(f.default, int):
        return f.default + 1 if md["bounds"] is None or md["bounds"][1] is None else md["bounds"][0]
    return None


def _fields():
    return [(cls, f) for cls in (options.UpsampleOptions, options.EngineOptions, options.TrainOptions)
            for f in options.option_fields(cls)]


def _value(opts, cls, name):
    sub = {options.EngineOptions: opts.engine, options.TrainOptions: opts.train}.get(cls, opts)
    return getattr(sub, name)


def test_every_option_travels_from_the_filter_and_the_cli_to_the_renderer(tmp_path, monkeypatch):
    """Each field the filter or the command line takes arrives, whole, in the options the
    renderer is built with: adding one needs no plumbing in between."""
    vs = pytest.importorskip("vapoursynth")
    import numpy as np
    from click.testing import CliRunner

    from vs_zstsr import filter as F
    from vs_zstsr import io, stream
    from vs_zstsr.cli import main
    from vs_zstsr.errors import ZstsrError

    seen = []

    def spy(model_path, opts, **kw):
        seen.append(opts)
        raise ZstsrError("stop here")

    monkeypatch.setattr(stream.Renderer, "create", classmethod(lambda cls, *a, **k: spy(*a, **k)))
    clip = vs.core.std.BlankClip(format=vs.RGBS, width=32, height=32, length=4)
    sig = inspect.signature(F.upsample).parameters
    src = tmp_path / "in.mkv"
    io.write_video(src, np.zeros((4, 32, 32, 3), np.float32), 30, bit_depth=8)
    up = {p.name: p for p in main.commands["upsample"].params}
    for cls, f in _fields():
        value = _another(f)
        if value is None:
            continue
        if f.name in sig and f.name != "factor":
            with pytest.raises(vs.Error, match="stop here"):
                F.upsample(clip, 2, **{f.name: value})
            assert _value(seen[-1], cls, f.name) == value, ("filter", f.name)
        if f.name in up and f.name != "factor":
            opt = up[f.name].opts[0]
            args = [opt] if isinstance(value, bool) else [opt, str(value)]
            r = CliRunner().invoke(main, ["upsample", str(src), "-o", str(tmp_path / "o.mkv"), "-f", "2", *args])
            assert "stop here" in r.stderr, (f.name, r.stderr)
            assert _value(seen[-1], cls, f.name) == value, ("cli", f.name)
