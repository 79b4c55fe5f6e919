"""The filter as VapourSynth users expect: training controls, scene-change props on the output,
ensemble booleans, a log line for options without effect."""
from __future__ import annotations

import numpy as np
import pytest

vs = pytest.importorskip("vapoursynth")
from conftest import moving_blob_htr  # noqa: E402
from test_cuts import similar_palette_shots  # noqa: E402
from test_filter import array_clip, core  # noqa: E402,F401  (core: the fixture)

from vs_zstsr import filter as F  # noqa: E402
from vs_zstsr.resample import rect_downsample  # noqa: E402


def logged(core, fn):  # noqa: F811
    messages = []
    handle = core.add_log_handler(lambda level, msg: messages.append(msg))
    try:
        return fn(), messages
    finally:
        core.remove_log_handler(handle)


def scene_props(clip) -> list[tuple[int, int]]:
    return [(int(f.props["_SceneChangePrev"]), int(f.props["_SceneChangeNext"])) for f in clip.frames()]


def test_scene_change_props_mark_the_cut_once(core):  # noqa: F811
    htr, cut = similar_palette_shots()
    src = array_clip(core, rect_downsample(htr, 8, 0))
    props = scene_props(F.upsample(src, 8, method="cubic"))       # zstsr's own detector
    assert [j for j, p in enumerate(props) if p[0]] == [cut * 8]
    assert [j for j, p in enumerate(props) if p[1]] == [cut * 8 - 1]

    def flag(n, f):        # an input with a cut at frame 4 marked on every frame's props
        g = f.copy()
        g.props["_SceneChangePrev"] = int(n == 4)
        g.props["_SceneChangeNext"] = int(n == 3)
        return g
    flagged = core.std.ModifyFrame(src, src, flag)
    for sc in (True, False):   # the cut used; with sc=False the input's own marks, on one frame each
        props = scene_props(F.upsample(flagged, 8, method="cubic", sc=sc))
        assert [j for j, p in enumerate(props) if p[0]] == [32], sc
        assert [j for j, p in enumerate(props) if p[1]] == [31], sc
    assert scene_props(F.upsample(src, 8, method="cubic", sc=False)) == [(0, 0)] * (16 * 8)


def test_ensemble_booleans_mean_the_same_in_a_vpy_and_in_python(core, monkeypatch):  # noqa: F811
    seen = []
    real = F._make_renderer

    def spy(model, options, **kw):
        seen.append(options.engine.ensemble)
        return real(model, options, **kw)

    monkeypatch.setattr(F, "_make_renderer", spy)
    src = array_clip(core, np.random.default_rng(0).random((4, 16, 20, 3), dtype=np.float32))
    for value in (True, False, 1, 0, 8):
        core.zstsr.Upsample(src, 2, method="cubic", ensemble=value)
        F.upsample(src, 2, method="cubic", ensemble=value)
    assert seen == [4, 4, 1, 1, 4, 4, 1, 1, 8, 8]
    with pytest.raises(vs.Error, match="ensemble must be one of"):
        F.upsample(src, 2, method="cubic", ensemble=3)


def test_options_without_effect_are_said(core):  # noqa: F811
    src = array_clip(core, np.random.default_rng(0).random((4, 16, 20, 3), dtype=np.float32))
    _, messages = logged(core, lambda: F.upsample(src, 2, method="cubic", fp16=True, tilesize=64))
    assert any("fp16 has no effect: no net runs" in m for m in messages), messages
    assert any("tilesize has no effect" in m for m in messages), messages
    _, messages = logged(core, lambda: F.upsample(src, 2, method="cubic"))
    assert not any("no effect" in m for m in messages), messages


def test_fp16_on_the_cpu_provider_is_said(core, tmp_path):  # noqa: F811
    pytest.importorskip("torch")
    from conftest import tiny_model

    model = tiny_model(tmp_path / "m.onnx")
    src = array_clip(core, np.random.default_rng(0).random((4, 16, 20, 3), dtype=np.float32))
    _, messages = logged(core, lambda: F.upsample(src, 2, model=str(model), method="net", provider="cpu", fp16=True))
    assert any("fp16 has no effect on the cpu provider" in m for m in messages), messages


def test_training_log_every_ten_seconds(core):  # noqa: F811
    log = F._TrainingLog(core)
    _, messages = logged(core, lambda: [log(i, None, {"seconds": s, "budget_s": 60.0, "ratio": 0.5})
                                        for i, s in enumerate((0.1, 3, 9.9, 10.5, 12, 25))])
    lines = [m for m in messages if "training" in m]
    assert len(lines) == 3 and "iteration 3, 10 s, 50 s left of 60 s, loss 0.500 x cubic's" in lines[1], lines


def test_budget_preset_examples_and_train_false(core, tmp_path, monkeypatch):  # noqa: F811
    pytest.importorskip("torch")
    import zstsr_trainer

    monkeypatch.setenv("ZSTSR_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(zstsr_trainer.PRESETS, "fast", zstsr_trainer.PRESETS["fast"].replace(width=4))
    src = array_clip(core, rect_downsample(moving_blob_htr(t=64, h=32, w=48), 4))
    with pytest.raises(vs.Error, match=r"^zstsr: no model trained for this clip .* `zstsr train CLIP -o clip.pt`"):
        F.upsample(src, 2, method="net", train=False, budget=1.5, preset="fast", examples="within")
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").glob("*.onnx"))
    _, messages = logged(core, lambda: F.upsample(src, 2, method="net", budget=1.5, preset="fast", examples="within"))
    assert any("for up to 2 s" in m for m in messages), messages         # the budget (1.5 s) was used
    assert any("training" in m and "iteration" in m for m in messages), messages
    assert len(list((tmp_path / "cache").glob("*.onnx"))) == 1
    _, messages = logged(core, lambda: F.upsample(src, 2, method="net", train=False, budget=1.5, preset="fast",
                                                  examples="within"))
    assert any("using the model trained earlier" in m for m in messages), messages
    for bad, match in ((dict(budget=-1), "budget"), (dict(preset="slow"), "preset"), (dict(examples="all"), "examples")):
        with pytest.raises(vs.Error, match=match):
            F.upsample(src, 2, method="net", **bad)
