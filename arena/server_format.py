"""The competition server's game format, played locally: a rehearsal before connecting.

A server game is 4 rounds of the normal game between the same two players, each keeping its
side: the puck starts in player 2's half in rounds 1 and 3 and in player 1's half in rounds 2
and 4, and the player with strictly more round wins (goals) wins the game; a round that runs out
of time is drawn. Policies are reset at every round's start, as ``arena.comprl`` does on the
server. Games come in pairs that share a seed with sides swapped (the server draws the sides at
random), played in lockstep like ``arena.match.play_games``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from arena.hockey.engine import HockeyEngine
from arena.lockstep import Lockstep
from arena.match import game_seed
from arena.policy import Policy, as_policy, policy_actions, reset_policy

SERVER_ROUNDS = 4


@dataclass(frozen=True)
class ServerGameRecord:
    """One server-format game from policy A's view.

    Attributes:
        game: the game's index in the match.
        seed: its engine seed (the rounds draw their placements from it in turn).
        a_side: "left" (player 1) or "right" (player 2): where A played all its rounds.
        rounds_won, rounds_lost, rounds_drawn: rounds A scored in, B scored in, that ran out.
        length: steps over all rounds.
    """

    game: int
    seed: int
    a_side: str
    rounds_won: int
    rounds_lost: int
    rounds_drawn: int
    length: int

    @property
    def outcome(self) -> int:
        """+1 A won more rounds, -1 B did, 0 a draw."""
        return int(np.sign(self.rounds_won - self.rounds_lost))


def round_one_starting(round_index: int) -> bool:
    """Whether the puck starts in player 1's half in round ``round_index`` (0-based): rounds 2 and 4."""
    return round_index % 2 == 1


def play_server_games(
    policy_a: Policy | str,
    policy_b: Policy | str,
    n_games: int,
    seed: int = 0,
    n_envs: int = 16,
    rounds: int = SERVER_ROUNDS,
) -> list[ServerGameRecord]:
    """Play ``n_games`` server-format games of A against B; game ``2k`` has A as player 1, ``2k + 1`` as player 2.

    Args:
        policy_a, policy_b: policies or scripted names (names are seeded from ``seed``).
        n_games: number of games (an even number gives each policy both seats equally).
        seed: match seed; the same arguments give the same games.
        n_envs: games played at once.
        rounds: rounds per game (the server's: 4).
    """
    if not isinstance(n_games, int) or n_games < 1:
        raise ValueError(f"n_games must be a positive integer, got {n_games!r}")
    policies = (
        as_policy(policy_a, seed=seed + 1, what="policy_a"),
        as_policy(policy_b, seed=seed + 2, what="policy_b"),
    )
    names = ("policy_a", "policy_b")
    n_slots = min(n_envs, n_games)
    games = Lockstep([HockeyEngine() for _ in range(n_slots)])
    action_dim = games.engines[0].action_dim
    slot_game, slot_round = [-1] * n_slots, [0] * n_slots
    counts = [[0, 0, 0, 0] for _ in range(n_slots)]  # won, lost, drawn, steps
    records: dict[int, ServerGameRecord] = {}
    next_game = 0

    def start_round(slot: int) -> None:
        games.engines[slot].reset(one_starting=round_one_starting(slot_round[slot]))
        games.write_views(slot)

    def start_game(slot: int, game: int) -> None:
        games.engines[slot].np_random = np.random.default_rng(game_seed(seed, game // 2))
        slot_game[slot], slot_round[slot], counts[slot] = game, 0, [0, 0, 0, 0]
        games.a_left[slot] = game % 2 == 0
        start_round(slot)

    for slot in range(n_slots):
        start_game(slot, next_game)
        next_game += 1
    for policy, name in zip(policies, names):
        reset_policy(policy, np.ones(n_slots, dtype=bool), name)
    while len(records) < n_games:
        actions = [
            np.clip(policy_actions(p, obs, action_dim, name), -1.0, 1.0).astype(np.float32).tolist()
            for p, obs, name in zip(policies, (games.obs_a, games.obs_b), names)
        ]
        restarted = np.zeros(n_slots, dtype=bool)
        for slot in range(n_slots):
            game = slot_game[slot]
            if game < 0:
                continue
            engine = games.step(slot, actions[0][slot], actions[1][slot])
            counts[slot][3] += 1
            if not engine.done:
                continue
            counts[slot][{1: 0, -1: 1, 0: 2}[games.outcome_for_a(slot)]] += 1
            slot_round[slot] += 1
            restarted[slot] = True
            if slot_round[slot] < rounds:
                start_round(slot)
                continue
            won, lost, drawn, length = counts[slot]
            side = "left" if games.a_left[slot] else "right"
            records[game] = ServerGameRecord(game, game_seed(seed, game // 2), side, won, lost, drawn, length)
            if next_game < n_games:
                start_game(slot, next_game)
                next_game += 1
            else:
                slot_game[slot] = -1
        if restarted.any():
            for policy, name in zip(policies, names):
                reset_policy(policy, restarted, name)
    return [records[g] for g in range(n_games)]
