"""The three steps that build a ladder (vs_zstsr/prepare.py), each on its own."""
import numpy as np
import pytest

from vs_zstsr import prepare
from vs_zstsr.errors import ZstsrError
from vs_zstsr.ladder import plan
from vs_zstsr.options import EngineOptions, TrainOptions, UpsampleOptions
from vs_zstsr.resample import rect_downsample, temporal_interpolate


def _ltr(t=24, h=64, w=96):
    from conftest import moving_blob_htr

    return rect_downsample(moving_blob_htr(t * 8, h, w, speed=0.4), 8)


def test_the_budget_is_split_only_when_fine_tuning():
    p8, p2 = plan(64, 96, 8), plan(64, 96, 2)
    B = prepare.Budget
    opts = TrainOptions(budget_s=120.0, finetune=True)
    assert prepare.split_budget(opts, p8, True) == (B(60.0), B(30.0))          # half, then half over 2 rungs
    assert prepare.split_budget(opts, p8, False) == (B(120.0), None)
    assert prepare.split_budget(TrainOptions(), p8, False) == (B(), None)      # the preset's
    both = TrainOptions(budget_s=120.0, iterations=1000, finetune=True)     # both limits share alike
    assert prepare.split_budget(both, p8, True) == (B(60.0, 500), B(30.0, 250))
    assert not prepare.wants_finetune(UpsampleOptions(factor=2, train=opts), p2)      # no rung above
    assert not prepare.wants_finetune(UpsampleOptions(method="cubic", train=opts), p8)
    assert prepare.wants_finetune(UpsampleOptions(train=opts), p8)


def test_train_keeps_a_given_model_and_needs_frames_otherwise():
    opts = UpsampleOptions(train=TrainOptions(examples="within"))
    t = prepare.train("m.onnx", plan(64, 96, 8), opts, prepare.Clip(64, 96), None)
    assert (t.path, t.examples, t.window) == ("m.onnx", "within", None)
    with pytest.raises(ZstsrError, match="training a model needs the clip's frames"):
        prepare.train(None, plan(64, 96, 8), opts, prepare.Clip(64, 96), None)


def test_select_keeps_a_harmful_net_off_and_finetune_then_does_nothing():
    class Noisy:   # cubic plus noise: worse than cubic alone
        receptive_field = {"frames": 2, "pixels": 2}
        metadata = {}

        def run(self, clip):
            x = temporal_interpolate(clip, 2, "cubic")
            return x + np.random.default_rng(0).normal(0, 0.05, x.shape).astype(np.float32)

    ltr = _ltr()
    clip = prepare.Clip(64, 96, lambda idx, size=None: ltr[list(idx)], len(ltr))
    opts = UpsampleOptions(engine=EngineOptions(ensemble=1))
    p = prepare.select(plan(64, 96, 8), Noisy(), opts, clip, candidates=("net", "cubic", "linear"))
    assert p.rungs[0].method in ("cubic", "linear") and p.rungs[0].gain_db < 0
    logs = []
    assert prepare.finetune(prepare.Trained("m.onnx"), p, opts, clip, 10.0, log=logs.append) == {}
    assert logs == ["no fine-tuning: the net did not take the first rung"]
    with pytest.raises(ZstsrError, match=r"the self-check needs the clip's frames \(or pass method='net'\)"):
        prepare.select(plan(64, 96, 8), Noisy(), opts, prepare.Clip(64, 96))


def test_the_means_of_pipelines_are_weighed_unless_fine_tuning(monkeypatch):
    """Fine-tuning puts the net on every rung of the pick, so a mean of pipelines that differ
    above the first rung is not weighed then (prepare.build_ladder)."""
    from vs_zstsr.selfcheck import BLEND_SIZES

    seen = []

    def select(ladder_plan, model, options, clip, window=None, *, blends, **kw):
        seen.append(blends)
        return ladder_plan

    monkeypatch.setattr(prepare, "train", lambda *a, **k: prepare.Trained("m.onnx"))
    monkeypatch.setattr(prepare, "select", select)
    monkeypatch.setattr(prepare, "finetune", lambda *a, **k: {})
    monkeypatch.setattr(EngineOptions, "load", lambda self, path: object())
    ltr = _ltr(t=8)
    clip = prepare.Clip(64, 96, lambda idx, size=None: ltr[list(idx)], len(ltr))
    prepare.build_ladder(None, UpsampleOptions(train=TrainOptions(finetune=True)), clip)
    prepare.build_ladder(None, UpsampleOptions(), clip)
    assert seen == [(), BLEND_SIZES]


def test_the_padding_option_reaches_the_trainer_and_keys_its_own_cached_model(monkeypatch):
    """TrainOptions.padding (zstsr upsample/train --padding, the filter's padding=) is the trainer
    config's; a model trained with another padding than the preset's is cached under its own key,
    and asking for the preset's own finds the model trained without asking (and the keys of the
    models trained before stay as they were)."""
    from vs_zstsr import fit
    from vs_zstsr.options import PADDINGS, PRESET_PADDING

    own = PRESET_PADDING["fast"]
    other = next(p for p in PADDINGS if p != own)
    calls = []
    monkeypatch.setattr(prepare, "fit_model", lambda *a, **kw: calls.append(kw) or "m.onnx")
    ltr = _ltr()
    clip = prepare.Clip(64, 96, read=lambda idx, size=None: ltr[list(idx)], num_frames=len(ltr))
    job = UpsampleOptions(train=TrainOptions(examples="within", padding=other))
    prepare.train(None, plan(64, 96, 8), job, clip, prepare.Budget())
    assert calls[0]["padding"] == other
    assert fit.train_config("fast", padding=other).padding == other
    assert fit.train_config("fast").padding == fit.train_config("fast", padding=None).padding == own
    key = fit.cached_model_path(clip.read, len(ltr), (16, 24), preset="fast", examples="within")
    for same in (None, own):
        assert fit.cached_model_path(clip.read, len(ltr), (16, 24), preset="fast", examples="within",
                                     padding=same) == key
    assert fit.cached_model_path(clip.read, len(ltr), (16, 24), preset="fast", examples="within", padding=other) != key
    with pytest.raises(ZstsrError, match="padding"):
        TrainOptions(padding="reflect").check()
