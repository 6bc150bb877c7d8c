"""Rendering draws the game where it is, headless; play.py records a match to a GIF."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

# Tests never need a screen; set before pygame opens a display (it reads this lazily).
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from arena.hockey.engine import HockeyEngine
from arena.hockey.render import (
    PLAYER_COLOURS,
    Window,
    render_frame,
    world_to_pixel,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def engine() -> HockeyEngine:
    eng = HockeyEngine(seed=0)
    eng.reset(one_starting=True)
    return eng


def test_frame_shape_and_content(engine):
    frame = render_frame(engine)
    assert frame.shape == (480, 600, 3)
    assert frame.dtype == np.uint8
    assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 3


def test_players_drawn_in_their_colours_at_their_positions(engine):
    frame = render_frame(engine)
    # A point a little behind each racket's centre lies inside its polygon.
    for body, offset, tag in ((engine.player_1, -0.15, "player_1"), (engine.player_2, 0.15, "player_2")):
        col, row = world_to_pixel(body.position.x + offset, body.position.y)
        assert tuple(frame[row, col]) == PLAYER_COLOURS[tag], tag
    assert PLAYER_COLOURS["player_1"] != PLAYER_COLOURS["player_2"]
    # Player 1 starts at world (2, 4): left of centre, mid-height (the y axis is not flipped wrongly).
    col, row = world_to_pixel(2.0, 4.0)
    assert col < 300 and row == 240


def test_puck_moves_between_frames():
    # In the defence drill the puck is kicked at reset, so it moves with both players idle.
    engine = HockeyEngine(mode="train_defense", seed=0)
    engine.reset()
    before = render_frame(engine)
    for _ in range(3):  # the kick is fast: it can reach the goal within ten steps
        engine.step([0.0] * 4, [0.0] * 4)
    after = render_frame(engine)
    puck_before = np.argwhere((before == 0).all(axis=2) & _rink_interior())
    puck_after = np.argwhere((after == 0).all(axis=2) & _rink_interior())
    assert len(puck_before) and len(puck_after)
    assert np.abs(puck_before.mean(axis=0) - puck_after.mean(axis=0)).max() > 2


def _rink_interior() -> np.ndarray:
    """Pixels inside the walls, so that black walls do not count as the puck."""
    mask = np.zeros((480, 600), dtype=bool)
    mask[45:435, 70:530] = True
    return mask


def test_window_under_dummy_driver(engine, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    window = Window(fps=1000)
    assert window.is_open
    window.show(render_frame(engine))
    with pytest.raises(ValueError, match="expected"):
        window.show(np.zeros((10, 10, 3), dtype=np.uint8))
    window.close()
    window.close()
    assert not window.is_open


def test_play_script_writes_gif(tmp_path):
    from PIL import Image

    out = tmp_path / "match.gif"
    env = {**os.environ, "PYTHONPATH": str(REPO), "SDL_VIDEODRIVER": "dummy"}
    command = [sys.executable, "scripts/play.py", "--left", "strong", "--right", "weak", "--games", "1"]
    command += ["--out", str(out), "--max-frames", "30"]
    result = subprocess.run(command, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "game 1:" in result.stdout
    with Image.open(out) as gif:
        # Pillow merges identical consecutive frames, so allow a few fewer than 30.
        assert 10 <= gif.n_frames <= 30
        assert gif.size[1] == 480 + 40  # the frames carry the caption band above the game


def test_recorded_frames_name_the_players_in_their_colours_with_score_and_step():
    from scripts.play import CAPTION_PX, caption

    frame = np.zeros((480, 600, 3), dtype=np.uint8)
    captioned = caption(frame, "runs/champion/members/sac-1800000-cca368be.pt", "basic-weak", (2, 1), 4, 137)
    assert captioned.shape == (480 + CAPTION_PX, 600, 3)
    assert (captioned[CAPTION_PX:] == frame).all()  # the game itself is not covered
    band = captioned[:CAPTION_PX].reshape(-1, 3)
    for colour in (PLAYER_COLOURS["player_1"], PLAYER_COLOURS["player_2"]):
        assert (band == colour).all(axis=1).sum() > 20  # each name is written in its player's colour
    left_half, right_half = captioned[:20, :250], captioned[:20, 350:]
    assert (left_half == PLAYER_COLOURS["player_1"]).all(axis=2).any()
    assert (right_half == PLAYER_COLOURS["player_2"]).all(axis=2).any()
    later = caption(frame, "runs/champion/members/sac-1800000-cca368be.pt", "basic-weak", (2, 1), 4, 138)
    assert not (later[:CAPTION_PX] == captioned[:CAPTION_PX]).all()  # the step is on the frame
