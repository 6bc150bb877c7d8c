"""Draw a hockey game as an RGB image, and show images in a pygame window.

``render_frame`` draws off-screen (no display needed), so frames can be recorded on a headless
machine. ``Window`` is the only place that opens a display. Colours follow the original course
game: a white rink with a grey centre circle and orange goal areas, black walls, grey goals,
player 1 red on the left, player 2 blue on the right and a black puck.
"""

from __future__ import annotations

import numpy as np
import pygame
from Box2D import b2CircleShape

from arena.hockey.constants import (
    FPS,
    MAX_TIME_KEEP_PUCK,
    SCALE,
    VIEWPORT_H,
    VIEWPORT_W,
    W,
)

RINK = (255, 255, 255)
CENTRE_CIRCLE = (204, 204, 204)
GOAL_AREA = (239, 203, 138)
WALL = (0, 0, 0)
GOAL = (128, 128, 128)
PLAYER_COLOURS = {"player_1": (235, 98, 53), "player_2": (93, 158, 199)}
PUCK = (0, 0, 0)
TEXT = (40, 40, 40)

_fonts: dict[int, pygame.font.Font] = {}


def world_to_pixel(x: float, y: float) -> tuple[int, int]:
    """Convert a world point to (column, row) of the image; the image's rows grow downwards."""
    return round(x * SCALE), round(VIEWPORT_H - y * SCALE)


def _layer_and_colour(body, fixture) -> tuple[int, tuple[int, int, int]]:
    """Where a fixture goes in the drawing order (decorations first, puck last) and its colour."""
    tag = body.userData
    if tag == "puck":
        return 3, PUCK
    if tag in PLAYER_COLOURS:
        return 2, PLAYER_COLOURS[tag]
    if fixture.filterData.categoryBits == 0:
        if isinstance(fixture.shape, b2CircleShape):
            # The centre circle sits at mid-rink; the goal circles are the two others.
            at_centre = abs(body.position.x - W / 2) < 1e-6
            return 0, CENTRE_CIRCLE if at_centre else GOAL_AREA
        # The rectangles cover the inner half of each goal circle, leaving a crescent behind the goal.
        return 0, RINK
    if str(tag).startswith("goal"):
        return 1, GOAL
    return 1, WALL


def _draw_fixture(surface: pygame.Surface, body, fixture, colour) -> None:
    shape = fixture.shape
    if isinstance(shape, b2CircleShape):
        centre = body.transform * shape.pos
        radius = max(1, round(shape.radius * SCALE))
        pygame.draw.circle(surface, colour, world_to_pixel(centre.x, centre.y), radius)
    else:
        points = [world_to_pixel(*(body.transform * v)) for v in shape.vertices]
        pygame.draw.polygon(surface, colour, points)
        # An anti-aliased outline smooths the edges of tilted rackets.
        pygame.draw.aalines(surface, colour, True, points)


def _font(size: int) -> pygame.font.Font:
    if size not in _fonts:
        if not pygame.font.get_init():
            pygame.font.init()
        _fonts[size] = pygame.font.Font(None, size)
    return _fonts[size]


def _draw_overlay(surface: pygame.Surface, engine) -> None:
    """Hold timers as bars in the strip above the top wall; the result once the game is over."""
    bar_w, bar_h, margin = 120, 8, 6
    for i, colour in enumerate(PLAYER_COLOURS.values()):
        left = margin if i == 0 else VIEWPORT_W - margin - bar_w
        pygame.draw.rect(surface, colour, (left, margin, bar_w, bar_h), width=1)
        filled = round(bar_w * min(engine.timers[i], MAX_TIME_KEEP_PUCK) / MAX_TIME_KEEP_PUCK)
        if filled:
            # Player 2's bar fills from the right so both bars grow from the outside in.
            start = left if i == 0 else left + bar_w - filled
            pygame.draw.rect(surface, colour, (start, margin, filled, bar_h))
    if engine.done:
        message = {1: "Player 1 scores", -1: "Player 2 scores"}.get(engine.winner, "Draw")
        text = _font(22).render(f"{message}  (step {engine.time})", True, TEXT)
        surface.blit(text, text.get_rect(midtop=(VIEWPORT_W // 2, 3)))


def render_frame(engine) -> np.ndarray:
    """Draw the engine's current world.

    Args:
        engine: a ``HockeyEngine`` after ``reset()``; its ``world``, ``timers``, ``done``,
            ``winner`` and ``time`` are read.

    Returns:
        The image as a (VIEWPORT_H, VIEWPORT_W, 3) = (480, 600, 3) uint8 RGB array.
    """
    if engine.world is None:
        raise RuntimeError("render_frame() needs a game in progress; call engine.reset() first")
    surface = pygame.Surface((VIEWPORT_W, VIEWPORT_H))
    surface.fill(RINK)
    parts = []
    for body in engine.world.bodies:
        for fixture in body.fixtures:
            layer, colour = _layer_and_colour(body, fixture)
            parts.append((layer, body, fixture, colour))
    # A stable sort keeps creation order within a layer (white rectangles over goal circles).
    for _, body, fixture, colour in sorted(parts, key=lambda part: part[0]):
        _draw_fixture(surface, body, fixture, colour)
    _draw_overlay(surface, engine)
    # surfarray indexes (column, row); images are (row, column).
    return np.ascontiguousarray(pygame.surfarray.array3d(surface).transpose(1, 0, 2))


class Window:
    """A pygame window that shows frames at a steady rate until the user closes it.

    Closing the window or pressing Escape or q sets ``is_open`` to False. Under
    ``SDL_VIDEODRIVER=dummy`` it works without a screen and shows nothing.

    Args:
        fps: frames per second that ``show`` keeps to.
        title: the window's caption.
    """

    def __init__(self, fps: float = FPS, title: str = "hockey"):
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.fps = fps
        pygame.display.init()
        self._screen = pygame.display.set_mode((VIEWPORT_W, VIEWPORT_H))
        pygame.display.set_caption(title)
        self._clock = pygame.time.Clock()
        self._open = True

    @property
    def is_open(self) -> bool:
        """False once the user has closed the window or ``close()`` was called."""
        self._handle_events()
        return self._open

    def _handle_events(self) -> None:
        if not self._open:
            return
        for event in pygame.event.get():
            quit_key = event.type == pygame.KEYDOWN and event.key in (pygame.K_ESCAPE, pygame.K_q)
            if event.type == pygame.QUIT or quit_key:
                self.close()
                return

    def show(self, frame: np.ndarray) -> None:
        """Display one (480, 600, 3) uint8 frame, then wait to keep to ``fps``; a no-op once closed."""
        frame = np.asarray(frame)
        if frame.shape != (VIEWPORT_H, VIEWPORT_W, 3):
            raise ValueError(f"frame has shape {frame.shape}; expected ({VIEWPORT_H}, {VIEWPORT_W}, 3)")
        self._handle_events()
        if not self._open:
            return
        # make_surface + blit converts to whatever pixel format the display uses.
        self._screen.blit(pygame.surfarray.make_surface(frame.transpose(1, 0, 2)), (0, 0))
        pygame.display.flip()
        self._clock.tick(self.fps)

    def close(self) -> None:
        """Close the window; safe to call more than once."""
        if self._open:
            self._open = False
            # Only the display: fonts used by render_frame stay initialised.
            pygame.display.quit()
