"""The competition server's game format, played locally: a rehearsal before connecting.

A server game is 4 rounds of the normal game between the same two players, each keeping its
side: the puck starts in player 2's half in rounds 1 and 3 and in player 1's half in rounds 2
and 4, and the player with strictly more round wins (goals) wins the game; a round that runs out
of time is drawn. Policies are reset at every round's start, as ``arena.comprl`` does on the
server. Games come in pairs that share a seed with sides swapped (the server draws the sides at
random); ``arena.match.play_games`` plays them, with 4 rounds per game.
"""

from __future__ import annotations

from arena.match import GameRecord, play_games
from arena.policy import Policy

SERVER_ROUNDS = 4


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
) -> list[GameRecord]:
    """Play ``n_games`` server-format games of A against B; game ``2k`` has A as player 1, ``2k + 1``
    as player 2. Each record counts A's rounds won, lost and drawn; its outcome is the game's.

    Args:
        policy_a, policy_b: policies or scripted names (names are seeded from ``seed``).
        n_games: number of games (an even number gives each policy both seats equally).
        seed: match seed; the same arguments give the same games.
        n_envs: games played at once.
        rounds: rounds per game (the server's: 4).
    """
    result = play_games(policy_a, policy_b, n_games, seed=seed, n_envs=n_envs, rounds=rounds,
                        one_starting=lambda game, round_index: round_one_starting(round_index))  # fmt: skip
    return result.records
