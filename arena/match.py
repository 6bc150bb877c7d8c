"""Play many games between two policies in lockstep, with sides swapped.

Each step, each policy is called once with the batch of all its games (so a planner plans for
all of them in one call). Games come in pairs that share a seed: policy A plays left in the
first and right in the second, each time with the puck starting on the same policy's side, so
each policy plays both sides equally and placement luck cancels out within a pair.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from arena.hockey.constants import Mode
from arena.hockey.engine import HockeyEngine
from arena.lockstep import Lockstep
from arena.policy import Policy, as_policy, policy_actions, reset_policy


@dataclass(frozen=True)
class GameRecord:
    """One finished game, from side A's point of view: a match's policy A, or a learner in training.

    Attributes:
        game: index of the game in the match (None for a training game: the trainer numbers those).
        seed: the engine seed it was played with (replay: HockeyEngine(seed=seed).reset(one_starting));
            None for a training game, whose engine is seeded once for all its games.
        one_starting: whether the left player started with the puck.
        a_side: "left" or "right": where A played.
        outcome: +1 A scored, -1 B scored, 0 draw (time-out).
        length: number of steps played.
        mode: the game mode (normal, train_shooting, train_defense).
        opponent: B's name, where B is drawn from a mix (training games).
        episode_return: A's summed reward (training games).
        replaced: the opponent a training game started against, where it could not be restored
            after a restart and the game went on against ``opponent``.
        rounds_won, rounds_lost, rounds_drawn: a game of several rounds (the competition
            server's format): the rounds A scored in, B scored in, that ran out of time; its
            ``outcome`` is who won more rounds, ``length`` its steps over all rounds and
            ``one_starting`` is its first round's. None for a one-round game.
    """

    game: int | None
    seed: int | None
    one_starting: bool
    a_side: str
    outcome: int
    length: int
    mode: str = "normal"
    opponent: str | None = None
    episode_return: float | None = None
    replaced: str | None = None
    rounds_won: int | None = None
    rounds_lost: int | None = None
    rounds_drawn: int | None = None


@dataclass
class MatchResult:
    """All games of a match, with win/draw/loss counts from either policy's view."""

    records: list[GameRecord]
    mode: str

    @property
    def n_games(self) -> int:
        return len(self.records)

    def counts(self, view: str = "a") -> tuple[int, int, int]:
        """(wins, draws, losses) for policy "a" or "b"."""
        if view not in ("a", "b"):
            raise ValueError(f"view must be 'a' or 'b', got {view!r}")
        sign = 1 if view == "a" else -1
        outcomes = [sign * r.outcome for r in self.records]
        return outcomes.count(1), outcomes.count(0), outcomes.count(-1)

    @property
    def wins(self) -> int:
        return self.counts("a")[0]

    @property
    def draws(self) -> int:
        return self.counts("a")[1]

    @property
    def losses(self) -> int:
        return self.counts("a")[2]

    @property
    def mean_length(self) -> float:
        return float(np.mean([r.length for r in self.records])) if self.records else 0.0

    def to_dicts(self) -> list[dict]:
        return [asdict(r) for r in self.records]


def game_seed(seed: int, pair: int) -> int:
    """The engine seed of a pair of games, derived from the match seed."""
    return int(np.random.SeedSequence([seed, 0, pair]).generate_state(1)[0])


def _policy_seed(seed: int, which: int) -> int:
    return int(np.random.SeedSequence([seed, 1, which]).generate_state(1)[0])


def play_games(
    policy_a: Policy | str,
    policy_b: Policy | str,
    n_games: int,
    seed: int = 0,
    mode: Mode | int | str = Mode.NORMAL,
    n_envs: int = 16,
    keep_mode: bool = True,
    on_game_end: Callable[[GameRecord], None] | None = None,
    rounds: int = 1,
    one_starting: Callable[[int, int], bool] | None = None,
) -> MatchResult:
    """Play ``n_games`` games of A against B in lockstep over ``n_envs`` environments.

    Args:
        policy_a, policy_b: policies (``act(obs (B, 18)) -> (B, 4)``) or scripted names
            (weak, strong, random, idle); names are seeded from ``seed``.
        n_games: number of games; an even number gives each policy both sides equally.
        seed: match seed; the same arguments give the same results.
        mode: game mode (normal, train_shooting, train_defense).
        n_envs: games played at once (the batch size each policy sees).
        keep_mode: the keep-puck mechanic (the original's default).
        on_game_end: called with each GameRecord as soon as its game ends.
        rounds: rounds per game, each a fresh game to a goal or the time-out, the sides kept and
            the policies reset; the game goes to whoever wins more of them.
        one_starting: ``(game, round) -> bool``, whether the left player starts with the puck;
            default: in the first game of a pair policy A starts, in the second B (so first
            possession is balanced between the policies and equal within a pair).

    Returns:
        MatchResult with one GameRecord per game, in order of the game index.
    """
    if not isinstance(n_games, int) or n_games < 1:
        raise ValueError(f"n_games must be a positive integer, got {n_games!r}")
    if not isinstance(n_envs, int) or n_envs < 1:
        raise ValueError(f"n_envs must be a positive integer, got {n_envs!r}")
    if not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be a positive integer, got {rounds!r}")
    mode = Mode.parse(mode)
    policies = (
        as_policy(policy_a, seed=_policy_seed(seed, 0), what="policy_a"),
        as_policy(policy_b, seed=_policy_seed(seed, 1), what="policy_b"),
    )
    n_slots = min(n_envs, n_games)
    games = Lockstep([HockeyEngine(mode=mode, keep_mode=keep_mode) for _ in range(n_slots)])
    engines, action_dim = games.engines, games.engines[0].action_dim
    slot_game = [-1] * n_slots  # game index played in each slot, -1 when idle
    slot_round = [0] * n_slots
    tally = [[0, 0, 0, 0, True] for _ in range(n_slots)]  # rounds won, lost, drawn by A; steps; first one_starting
    # Each policy's batch: row i is its view of the game in slot i (kept stale when idle).
    batch = [games.obs_a, games.obs_b]
    records: dict[int, GameRecord] = {}
    next_game = 0

    def start_round(slot: int) -> None:
        game = slot_game[slot]
        if one_starting is not None:
            first = one_starting(game, slot_round[slot])
        else:
            a_starts = (game // 2) % 2 == 0
            first = a_starts if games.a_left[slot] else not a_starts
        engines[slot].reset(one_starting=first)
        games.write_views(slot)

    def start(slot: int, game: int) -> None:
        engines[slot].np_random = np.random.default_rng(game_seed(seed, game // 2))
        slot_game[slot], games.a_left[slot], slot_round[slot] = game, game % 2 == 0, 0
        start_round(slot)
        tally[slot] = [0, 0, 0, 0, engines[slot].one_starts]

    for slot in range(n_slots):
        start(slot, next_game)
        next_game += 1
    for i, policy in enumerate(policies):
        reset_policy(policy, np.ones(n_slots, dtype=bool), "policy_a" if i == 0 else "policy_b")

    while len(records) < n_games:
        actions = [_checked_actions(p, batch[i], action_dim, "policy_a" if i == 0 else "policy_b")
                   for i, p in enumerate(policies)]  # fmt: skip
        started = np.zeros(n_slots, dtype=bool)
        for slot in range(n_slots):
            game = slot_game[slot]
            if game < 0:
                continue
            engine = games.step(slot, actions[0][slot], actions[1][slot])
            if engine.done:
                outcome = games.outcome_for_a(slot)
                counts = tally[slot]
                counts[{1: 0, -1: 1, 0: 2}[outcome]] += 1
                counts[3] += engine.time
                slot_round[slot] += 1
                if slot_round[slot] < rounds:
                    start_round(slot)
                    started[slot] = True
                    continue
                won, lost, drawn, length, first = counts
                several = {"rounds_won": won, "rounds_lost": lost, "rounds_drawn": drawn} if rounds > 1 else {}
                record = GameRecord(
                    game=game,
                    seed=game_seed(seed, game // 2),
                    one_starting=first,
                    a_side="left" if games.a_left[slot] else "right",
                    outcome=outcome if rounds == 1 else int(np.sign(won - lost)),
                    length=length,
                    mode=mode.name.lower(),
                    **several,
                )
                records[game] = record
                if on_game_end is not None:
                    on_game_end(record)
                if next_game < n_games:
                    start(slot, next_game)
                    next_game += 1
                    started[slot] = True
                else:
                    slot_game[slot] = -1
        if started.any():
            for i, policy in enumerate(policies):
                reset_policy(policy, started, "policy_a" if i == 0 else "policy_b")
    return MatchResult(records=[records[g] for g in range(n_games)], mode=mode.name.lower())


def _checked_actions(policy: Policy, obs: np.ndarray, action_dim: int, who: str) -> list:
    """Call the policy and check its answer: shape (B, action_dim), finite; clip, float32."""
    actions = policy_actions(policy, obs, action_dim, who)
    # As in the original: clip to [-1, 1], then round to float32 before the forces are computed.
    return np.clip(actions, -1.0, 1.0).astype(np.float32).tolist()
