"""The options of an upsampling job, each with its choices, default, help and rule written once.

Three small dataclasses, passed whole (as vs-mlrt passes its backends):

* :class:`EngineOptions`: how the net runs (provider, device_id, fp16, tilesize, overlap, ensemble);
* :class:`TrainOptions`: how a model is trained when none is given (preset, budget, examples,
  padding, finetune);
* :class:`UpsampleOptions`: the job (factor, method, scene cuts, ...) holding the other two.

Every entry point builds them: ``zstsr upsample`` and ``zstsr render`` (cli.py: their click options
are made from the fields below), the VapourSynth filter (filter.py: its keyword arguments, tested
against these fields) and the Python API (:meth:`.stream.Renderer.create`); the renderer hands them
on whole to the ladder, the self-check, training and the model loads. ``check()`` raises
:class:`.errors.UsageError` with the one message each entry point shows (the CLI as ``zstsr:
error: ...``, the filter as ``vs.Error("zstsr: ...")``).

Adding an option is one field here (with its help and, where it has a rule, a line in ``check``),
its use where it acts, and a keyword argument of the filter: see docs/DEVELOPING.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from fractions import Fraction

from .cuts import DEFAULT_THRESHOLD
from .errors import UsageError
from .methods import AUTO, CHOICES
from .netrun import DEFAULT_ENSEMBLE, ENSEMBLE_SIZES
from .shotends import DEFAULT as DEFAULT_SHOT_ENDS, MODES as SHOT_ENDS

FACTORS = (2, 4, 8, 16)                              # powers of 2: one x2 in time per ladder rung
PROVIDERS = ("auto", "cpu", "cuda", "tensorrt")      # onnxruntime execution providers (.model)
GPU_PROVIDERS = PROVIDERS[2:]                        # those that need a CUDA GPU
PRESETS = ("fast", "paper")                          # zstsr_trainer.PRESETS (a test checks they agree)
EXAMPLE_KINDS = ("within", "across", "both")         # the trainer's internal examples (docs/TRAINER.md)
# How the net's conv layers pad their input (zstsr_trainer.TrainConfig.padding, defined here so the
# torch-free runtime can offer it): repeat the edge (both presets) or zeros, which oneDNN and
# onnxruntime do inside the convolution: faster, as good on the real clips (small ones too), 2 dB
# worse on the fan (docs/BENCHMARKS.md, "Zero padding" and "Zero padding on small real clips").
PADDINGS = ("replicate", "zeros")
# Each preset's padding (zstsr_trainer.PRESETS take theirs from here): the runtime needs it too, so
# that asking for a preset's own padding finds the model trained without asking (fit.cached_model_path).
PRESET_PADDING = {"fast": "replicate", "paper": "replicate"}


def opt(default, help: str, *, cli: str | None = None, choices: tuple | None = None,
        bounds: tuple | None = None, metavar: str | None = None, label: str | None = None):
    """A field with its rule and what the command line and the filter's docs need: ``help``;
    ``cli``: the option's name when it is not ``--`` + the field's name with dashes; ``choices``:
    the values it takes; ``bounds``: (lowest, highest or None); ``label``: its name in messages
    (default: the field's name); ``metavar``: a CLI value the command parses itself."""
    return field(default=default, metadata={"help": help, "cli": cli, "choices": choices, "bounds": bounds,
                                            "metavar": metavar, "label": label})


def check_factor(factor: int) -> int:
    if factor not in FACTORS:
        raise UsageError(f"factor must be a power of 2 from {FACTORS[0]} to {FACTORS[-1]}, got {factor}")
    return factor


def _check_fields(obj) -> None:
    """Each field's ``choices`` and ``bounds`` (None is always allowed where it is the default)."""
    for f in option_fields(type(obj)):
        value, md = getattr(obj, f.name), f.metadata
        name = md["label"] or f.name
        if value is None and f.default is None:
            continue
        if md["choices"] and value not in md["choices"]:
            raise UsageError(f"{name} must be one of {', '.join(map(str, md['choices']))}; got {value!r}")
        if md["bounds"]:
            lo, hi = md["bounds"]
            if hi is None and value < lo:
                raise UsageError(f"{name} must be at least {lo}, got {value}")
            if hi is not None and not lo <= value <= hi:
                raise UsageError(f"{name} must be between {lo} and {hi}, got {value}")


@dataclass(frozen=True)
class EngineOptions:
    """How the net runs (where a ladder rung uses it)."""
    provider: str = opt("auto", "onnxruntime execution provider: auto (CUDA when a GPU is present, "
                        "else the CPU), cpu, cuda or tensorrt.", choices=PROVIDERS)
    device_id: int = opt(0, "GPU to use.", bounds=(0, None))
    fp16: bool = opt(False, "Run the net in half precision (CUDA/TensorRT only; ignored on the CPU).")
    tilesize: int = opt(0, "Run the net on spatial tiles of this size (0: whole frames, or tiles "
                        "chosen to bound memory).", bounds=(0, None))
    overlap: int = opt(0, "Extra overlap of neighbouring tiles in pixels (at least the net's reach "
                       "is used).", bounds=(0, None))
    ensemble: int = opt(DEFAULT_ENSEMBLE, "Where the net runs, average its answers to this many "
                        "time-reversed, rotated and flipped copies of its input (the geometric "
                        "self-ensemble; the net's cost grows with it).", choices=ENSEMBLE_SIZES)

    def check(self) -> "EngineOptions":
        _check_fields(self)
        return self

    def load(self, path):
        """The model at ``path`` (:func:`.model.load_model`), run as these options say."""
        from .model import load_model

        return load_model(path, self.provider, self.device_id, self.fp16)


@dataclass(frozen=True)
class TrainOptions:
    """How the net is trained on the clip when no model is given."""
    preset: str | None = opt(None, "Training preset (default: paper on a GPU, fast on the CPU).", choices=PRESETS)
    budget_s: float | None = opt(None, "Training wall-clock limit, e.g. 10m. Default: the preset's "
                                 "iterations, with its time as a cap.", cli="--budget", metavar="TIME")
    iterations: int | None = opt(None, "Training iterations (with --budget: whichever ends first). Default: "
                                 "the preset's (the same net whatever the machine's load).", bounds=(1, None))
    examples: str | None = opt(None, "Internal examples: within dimension, across dimensions, or both. "
                               "auto (the default of upsample and render): train a within net and a both "
                               "net, half the budget and iterations each, and keep the one whose first rung has the lower "
                               "group seam; train: both.", choices=(AUTO,) + EXAMPLE_KINDS)
    padding: str | None = opt(None, "How the net's layers pad their input: replicate (the presets') or zeros, "
                              "which trains about 1.1x as fast and runs the net in two thirds of the time; as "
                              "good on the real test clips, 2 dB worse on a small synthetic one "
                              "(docs/BENCHMARKS.md, \"Zero padding\"). Default: the preset's.", choices=PADDINGS)
    finetune: bool = opt(False, "Where the net takes the first rung, also run it on every rung above, "
                         "fine-tuned on that rung's own input (needs torch). The training budget is "
                         "shared: half for the first rung's net, half for the rest.")
    output: str | None = opt(None, "Also keep the trained model here (with examples auto: the net that "
                             "was kept).", cli="--save-model")

    def check(self) -> "TrainOptions":
        _check_fields(self)
        if self.budget_s is not None and not self.budget_s > 0:
            raise UsageError(f"the training budget must be positive, got {self.budget_s}")
        return self


@dataclass(frozen=True)
class UpsampleOptions:
    """One upsampling job: what ``zstsr upsample``, ``zstsr render`` and ``core.zstsr.Upsample`` do."""
    factor: int = opt(8, "Temporal factor N (a power of 2 from 2 to 16).")
    method: str = opt(AUTO, "auto: a self-check on the clip's own x2 picks the best interpolator for the "
                      "rungs and uses the net on the first rung only where it beats that; net: the net on "
                      "every rung (the paper); netflow: the net's residual added to flow's x2 instead of "
                      "cubic's, on every rung; an interpolator: that interpolator on every rung, no net "
                      "(no training).", choices=CHOICES)
    cut_threshold: float = opt(DEFAULT_THRESHOLD, "Scene-cut detection: each shot is processed as a clip "
                               "of its own, so no frame mixes two shots. Lower finds more cuts; 0 turns "
                               "detection off (see docs/FOOTAGE.md).", cli="--scene-threshold", bounds=(0, 1),
                               label="the scene-cut threshold (sc_threshold, --scene-threshold)")
    shot_ends: str = opt(DEFAULT_SHOT_ENDS, "Half of each shot's first and last output group lies beyond "
                         "the frames it shows. motion: continue the shot there along its own motion "
                         "(measured between its two end frames); clamp: repeat its end frame "
                         "(docs/BENCHMARKS.md, \"Shot ends\").", choices=SHOT_ENDS)
    out_fps: Fraction | None = opt(None, "Output frame rate instead of a factor, e.g. 60 or 60000/1001 (above the "
                                   "input's): TSR by the smallest power of 2 that reaches it, then each output "
                                   "frame the exposure-weighted mean of those frames over its own interval "
                                   "(vs_zstsr/retime.py).", metavar="RATE")
    bp_iters: int = opt(1, "Spatio-temporal back-projection iterations between rungs (a prototype found 3 "
                        "no better than 1: docs/PROTOTYPE.md).", bounds=(1, None))
    engine: EngineOptions = field(default_factory=EngineOptions)
    train: TrainOptions = field(default_factory=TrainOptions)

    def check(self) -> "UpsampleOptions":
        check_factor(self.factor)
        _check_fields(self)
        self.engine.check()
        self.train.check()
        if self.out_fps is not None and not self.out_fps > 0:
            raise UsageError(f"the output rate must be positive, got {self.out_fps}")
        return self


def option_fields(cls) -> list:
    """The fields of ``cls`` that are options (not the nested option objects)."""
    return [f for f in fields(cls) if "help" in f.metadata]
