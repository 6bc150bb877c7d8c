"""Watch or record hockey games between two policies.

Examples:
    python scripts/play.py --left strong --right weak               # watch in a window
    python scripts/play.py --left strong --right random --games 3 --out match.gif
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

import numpy as np

# Before pygame is first imported: keep its greeting out of the script's output.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

from arena.hockey.constants import FPS, Mode
from arena.hockey.engine import HockeyEngine
from arena.hockey.render import PLAYER_COLOURS, Window, render_frame
from arena.policy import SCRIPTED_POLICIES, make_policy, reset_policy
from plumbing.cli import entry_point

MODES = [mode.name.lower() for mode in Mode]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    names = ", ".join(SCRIPTED_POLICIES)
    parser.add_argument("--left", default="strong", help=f"player 1 (left, red): {names}, or a checkpoint file")
    parser.add_argument("--right", default="weak", help=f"player 2 (right, blue): {names}, or a checkpoint file")
    parser.add_argument("--games", type=int, default=1, help="number of games to play, one after the other")
    parser.add_argument("--seed", type=int, default=0, help="seed of the game's placements and the policies")
    parser.add_argument("--mode", choices=MODES, default="normal", help="full games or one of the training drills")
    parser.add_argument(
        "--render",
        choices=["human"],
        default="human",
        help="show games in a window (ignored with --out)",
    )
    parser.add_argument("--out", type=Path, help="write the games to this .gif or .mp4 file instead of a window")
    parser.add_argument("--fps", type=float, default=FPS, help="frames per second of the window and the file")
    parser.add_argument("--max-frames", type=int, help="stop recording after this many frames (default: no cap)")
    args = parser.parse_args(argv)
    if args.games < 1:
        parser.error(f"--games must be at least 1, got {args.games}")
    if args.fps <= 0:
        parser.error(f"--fps must be positive, got {args.fps}")
    if args.max_frames is not None and args.max_frames < 1:
        parser.error(f"--max-frames must be at least 1, got {args.max_frames}")
    if args.out is not None and args.out.suffix.lower() not in (".gif", ".mp4"):
        parser.error(f"--out must end in .gif or .mp4, got {str(args.out)!r}")
    if args.out is not None and args.out.suffix.lower() == ".mp4" and importlib.util.find_spec("imageio") is None:
        parser.error(f"writing {args.out} needs imageio (pip install imageio imageio-ffmpeg); or use a .gif")
    if args.out is None and not display_available():
        raise ValueError(
            "no display to show a window on (DISPLAY and WAYLAND_DISPLAY are unset); "
            "record the games instead, e.g. --out match.gif"
        )
    try:
        # Distinct seeds, so that two copies of a random policy do not mirror each other.
        args.left_policy = load(args.left, seed=args.seed + 1)
        args.right_policy = load(args.right, seed=args.seed + 2)
    except ImportError as error:
        raise ValueError(str(error)) from None
    return args


def display_available() -> bool:
    """Whether a window can be shown: a display on Linux, or a video driver the user chose (SDL_VIDEODRIVER)."""
    if os.environ.get("SDL_VIDEODRIVER"):
        return True
    if not sys.platform.startswith("linux"):
        return True  # Windows and macOS always have their own display
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def load(name: str, seed: int):
    """A scripted policy by name, or a learned one from a checkpoint file."""
    if os.path.exists(name):
        try:
            from agents import load_policy
        except ImportError as error:
            raise ImportError(f"loading checkpoints needs the agents package (to load {name!r})") from error
        return load_policy(name)
    try:
        return make_policy(name, seed=seed)
    except ValueError:
        valid = ", ".join(SCRIPTED_POLICIES)
        message = f"unknown policy {name!r}: expected one of {valid}, or the path of a checkpoint file"
        raise ValueError(message) from None


def play_game(engine: HockeyEngine, left, right, on_frame) -> int:
    """Play one game to its end, calling ``on_frame(engine)`` before the first step and after each.

    Returns:
        The number of steps played.
    """
    engine.reset()
    for policy in (left, right):
        reset_policy(policy, np.ones(1, dtype=bool))
    on_frame(engine)
    steps = 0
    while not engine.done:
        actions = [
            np.clip(np.asarray(policy.act(engine.observation(side)[None])[0], dtype=np.float32), -1.0, 1.0)
            for side, policy in enumerate((left, right))
        ]
        engine.step(*actions)
        steps += 1
        if on_frame(engine) is False:
            break
    return steps


def hold_final_frame(window: Window, frame: np.ndarray, seconds: float) -> None:
    """Keep showing the end of a game for a moment, so that the viewer sees the result."""
    end = time.monotonic() + seconds
    while window.is_open and time.monotonic() < end:
        window.show(frame)


CAPTION_PX = 40  # the band above a recorded frame that names the players and gives the score and step


def caption(frame: np.ndarray, left: str, right: str, score: tuple[int, int], game: int, step: int) -> np.ndarray:
    """``frame`` with a band above it: each player's name in its colour on its side, the games won
    so far between them, and the game and step, so a recording says who plays and where it is.

    Args:
        frame: the rendered (H, W, 3) uint8 image.
        left, right: the players' labels (left plays as player 1).
        score: games won so far by (left, right).
        game, step: the game's number (from 1) and the step within it.
    """
    from PIL import Image, ImageDraw, ImageFont

    height, width = frame.shape[:2]
    image = Image.new("RGB", (width, height + CAPTION_PX), (250, 250, 250))
    image.paste(Image.fromarray(frame), (0, CAPTION_PX))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    small = ImageFont.load_default(size=12)

    def fit(text: str, room: float) -> str:  # a long label (a checkpoint's path) keeps its end
        while len(text) > 4 and draw.textlength(text, font=font) > room:
            text = "..." + text[4:]
        return text

    middle = f"{score[0]} : {score[1]}"
    room = (width - draw.textlength(middle, font=font)) / 2 - 16
    draw.text((6, 3), fit(left, room), fill=PLAYER_COLOURS["player_1"], font=font)
    draw.text((width - 6, 3), fit(right, room), fill=PLAYER_COLOURS["player_2"], font=font, anchor="ra")
    draw.text((width / 2, 3), middle, fill=(30, 30, 30), font=font, anchor="ma")
    draw.text((width / 2, 22), f"game {game}  step {step}", fill=(90, 90, 90), font=small, anchor="ma")
    return np.asarray(image)


def write_video(path: Path, frames: list[np.ndarray], fps: float) -> None:
    """Write frames as a looping GIF (Pillow) or an MP4 (imageio with its ffmpeg plugin)."""
    if not frames:
        raise ValueError(f"no frames to write to {path}")
    if path.suffix.lower() == ".gif":
        from PIL import Image

        images = [Image.fromarray(frame) for frame in frames]
        # GIF frame times are whole milliseconds (in practice hundredths of a second).
        images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
        return
    try:
        import imageio.v2 as imageio
    except ImportError as error:
        raise SystemExit(f"writing {path} needs imageio (pip install imageio imageio-ffmpeg); or use a .gif") from error
    imageio.mimwrite(path, frames, fps=fps)


@entry_point
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    engine = HockeyEngine(mode=args.mode, seed=args.seed)
    window = Window(fps=args.fps) if args.out is None else None
    frames: list[np.ndarray] = []
    wins = {1: 0, -1: 0}  # games won so far by the left and the right player
    where = {"game": 1, "step": 0}

    def on_frame(eng: HockeyEngine) -> bool:
        if window is not None:
            window.show(render_frame(eng))
            return window.is_open
        if args.max_frames is None or len(frames) < args.max_frames:
            frames.append(
                caption(render_frame(eng), args.left, args.right, (wins[1], wins[-1]), where["game"], where["step"])
            )
        where["step"] += 1
        return True

    results = {1: "left wins", -1: "right wins", 0: "draw"}
    try:
        for game in range(1, args.games + 1):
            where.update(game=game, step=0)
            steps = play_game(engine, args.left_policy, args.right_policy, on_frame)
            result = results[engine.winner] if engine.done else "stopped"
            if engine.done and engine.winner in wins:
                wins[engine.winner] += 1
            print(f"game {game}: {args.left} vs {args.right}: {result} after {steps} steps", flush=True)
            if window is not None:
                hold_final_frame(window, render_frame(engine), seconds=0.5)
                if not window.is_open:
                    break
    except KeyboardInterrupt:
        print("interrupted; keeping the games recorded so far", file=sys.stderr)
    finally:
        if window is not None:
            window.close()
    if args.out is not None:
        write_video(args.out, frames, args.fps)
        print(f"wrote {len(frames)} frames to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
