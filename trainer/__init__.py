"""zstsr_trainer: the zero-shot trainer (needs torch). See docs/TRAINER.md."""
from .config import PRESETS, TrainConfig
from .net import TSRNet, receptive_field
from .train import Checkpoint, TrainResult, load_checkpoint, save_checkpoint, train

__all__ = ["TrainConfig", "PRESETS", "TSRNet", "receptive_field", "train", "TrainResult",
           "load_checkpoint", "save_checkpoint", "Checkpoint"]
