"""The example scenes: exact ground truth, the fan aliases at 30 fps, and the CLI renders them."""
import subprocess
import sys
from fractions import Fraction

import numpy as np
import scenes  # examples/scenes.py (conftest puts examples/ on the path)

from vs_zstsr import io
from vs_zstsr.resample import rect_downsample


def test_scenes_are_deterministic_and_sized_for_the_ladder():
    for name in scenes.SCENES:
        a, rate = scenes.render(name, "small")
        b, _ = scenes.render(name, "small")
        assert rate == Fraction(240) and a.dtype == np.float32
        assert a.shape[0] % 8 == 0 and a.shape[1] % 8 == 0 and a.shape[2] % 8 == 0
        assert 0 <= a.min() and a.max() <= 1
        np.testing.assert_array_equal(a, b)


def test_fan_turns_forwards_at_240fps_and_appears_to_turn_backwards_at_30fps():
    htr, _ = scenes.render("fan", "small")
    forward = scenes.rotation_direction(htr)
    backward = scenes.rotation_direction(rect_downsample(htr, 8))
    assert abs(forward - scenes.FAN_DEGREES_PER_HTR_FRAME) < 0.5
    assert backward < 0 and abs(backward - scenes.FAN_ALIASED_DEGREES_PER_LTR_FRAME) < 3


def test_motion_blur_comes_from_sub_samples():
    """An HTR frame of a moving scene is the mean of its sub-frame renders: more sub-samples
    converge, and a single sample per frame (no blur) is measurably different."""
    sharp, _ = scenes.render("texture", "small", subsamples=1)
    blur, _ = scenes.render("texture", "small", subsamples=16)
    finer, _ = scenes.render("texture", "small", subsamples=32)
    assert np.abs(blur - finer).max() < 0.02 < np.abs(blur - sharp).max()


def test_command_line_writes_a_clip(tmp_path):
    out = tmp_path / "fan.mkv"
    subprocess.run([sys.executable, scenes.__file__, "fan", "-o", str(out)], check=True)
    info, clip = io.read_video(out)
    assert info.rate == 240 and clip.shape == scenes.render("fan", "small")[0].shape
