"""Experience collection from several hockey games at once, against a weighted mix of opponents.

The learner plays ``n_envs`` games in lockstep: one batched ``act`` call per step for the learner
and one per opponent in use. Each game draws its opponent from the mix when it starts and the
learner alternates sides game by game, so it learns both halves of the rink (in the training modes,
which shoot for and at player 1, it plays left). The whole state
(engines, opponents' generators, sides, running returns) can be saved and restored, which is
what makes a resumed training run continue exactly.
"""

from __future__ import annotations

import numpy as np

from arena.hockey.constants import ACTION_DIM, Mode
from arena.hockey.engine import EngineState, HockeyEngine
from arena.hockey.rewards import reward_function
from arena.lockstep import Lockstep
from arena.match import GameRecord
from arena.policy import policy_actions, reset_policy


class Collector:
    """Lockstep games of a learner against opponents drawn per game.

    Args:
        n_envs: games played at once.
        opponents: (label, policy) pairs; a policy has a batched ``act`` and optionally ``reset``.
        weights: sampling weight of each opponent (normalised here).
        seed: seeds the engines and the collector's own generator.
        reward: the learner's reward, a key of ``arena.hockey.rewards.REWARDS`` (game, sparse, shaped).
    """

    def __init__(self, n_envs: int, opponents: list[tuple[str, object]], weights: list[float], seed: int,
                 reward: str = "game"):  # fmt: skip
        if n_envs < 1:
            raise ValueError(f"n_envs must be positive, got {n_envs}")
        self.reward = reward_function(reward)
        if not opponents or len(opponents) != len(weights):
            raise ValueError("need at least one opponent and one weight per opponent")
        weights = np.asarray(weights, dtype=np.float64)
        if (weights < 0).any() or weights.sum() <= 0:
            raise ValueError(f"opponent weights must be >= 0 with a positive sum, got {weights.tolist()}")
        self.n_envs = n_envs
        self.labels = [label for label, _ in opponents]
        self.policies = [policy for _, policy in opponents]
        self.probabilities = weights / weights.sum()
        seeds = np.random.SeedSequence([seed, 7]).spawn(n_envs + 1)
        self.rng = np.random.default_rng(seeds[0])
        engines = [HockeyEngine(seed=int(s.generate_state(1)[0])) for s in seeds[1:]]
        # side A is the learner, side B its opponents; the learner starts left in even slots
        self.games = Lockstep(engines, a_left=[slot % 2 == 0 for slot in range(n_envs)])
        self.engines, self.learner_left = self.games.engines, self.games.a_left
        self.obs, self.opponent_obs = self.games.obs_a, self.games.obs_b  # each side's views of every game
        self.opponent = np.zeros(n_envs, dtype=np.int64)
        self.returns = np.zeros(n_envs, dtype=np.float64)
        self.last_opponent_actions = np.zeros((n_envs, ACTION_DIM), dtype=np.float32)  # each opponent's, last step
        self.replaced: dict[int, str] = {}  # slot -> the opponent its game started against, where it was lost
        self.dropped: list[str] = []  # why saved opponents could not be restored (load_state_dict)
        self.started = False

    def start(self, mode_for) -> None:
        """Start every game; ``mode_for()`` gives the mode of each new game."""
        for slot in range(self.n_envs):
            self._start(slot, mode_for(), flip=False)
        self._reset_opponents(np.ones(self.n_envs, dtype=bool))
        self.started = True

    def _start(self, slot: int, mode: Mode, flip: bool = True) -> None:
        if flip:
            self.learner_left[slot] = not self.learner_left[slot]
        if mode != Mode.NORMAL:  # the training modes shoot for and at player 1 (left): the learner's seat
            self.learner_left[slot] = True
        self.opponent[slot] = self.rng.choice(len(self.policies), p=self.probabilities)
        self.returns[slot] = 0.0
        self.engines[slot].reset(mode=mode)
        self.games.write_views(slot)

    def set_opponents(self, weights: dict[str, float], resolve) -> None:
        """Change the opponent mix for the games that start from now on.

        Args:
            weights: label -> sampling weight (normalised here; at least one positive).
            resolve: label -> policy, called only for labels this collector does not hold yet.

        Games in progress finish against the opponent they started with (a league changes the
        mix between rounds; cutting games short would teach the learner false time-outs).
        """
        values = np.asarray(list(weights.values()), dtype=np.float64)
        if not weights or (values < 0).any() or not values.sum() > 0:
            raise ValueError(f"opponent weights must be >= 0 with a positive sum, got {weights}")
        held = dict(zip(self.labels, self.policies))
        in_use = {self.labels[i] for i in set(self.opponent.tolist())} if self.started else set()
        labels = list(weights) + sorted(in_use - set(weights))
        policies = []
        for label in labels:
            if label in held:
                policies.append(held[label])
            else:
                policy = resolve(label)
                reset_policy(policy, np.ones(self.n_envs, dtype=bool), f"opponent {label}")
                policies.append(policy)
        index = {label: i for i, label in enumerate(labels)}
        if self.started:
            self.opponent = np.array([index[self.labels[i]] for i in self.opponent], dtype=np.int64)
        else:
            self.opponent = np.zeros(self.n_envs, dtype=np.int64)
        probabilities = np.array([weights.get(label, 0.0) for label in labels], dtype=np.float64)
        self.labels, self.policies, self.probabilities = labels, policies, probabilities / probabilities.sum()

    def _reset_opponents(self, mask: np.ndarray) -> None:
        for label, policy in zip(self.labels, self.policies):
            reset_policy(policy, mask, f"opponent {label}")

    def step(
        self, actions: np.ndarray, mode_for
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[GameRecord]]:
        """Play one step of every game with the learner's ``actions`` (n_envs, 4).

        Returns:
            next_obs (the observation after the step, the terminal one where a game ended),
            reward, terminated, truncated (each per game) and the games that ended. Ended games
            restart at once (with ``mode_for()``), so ``self.obs`` is ready for the next step.
        """
        opponent_actions = np.zeros_like(actions)
        for index in np.unique(self.opponent):
            rows = self.opponent == index
            who = f"opponent {self.labels[index]}"
            opponent_actions[rows] = policy_actions(self.policies[index], self.opponent_obs, ACTION_DIM, who)[rows]
        self.last_opponent_actions = opponent_actions.astype(np.float32)
        next_obs = np.empty_like(self.obs)
        reward = np.zeros(self.n_envs, dtype=np.float32)
        terminated = np.zeros(self.n_envs, dtype=bool)
        truncated = np.zeros(self.n_envs, dtype=bool)
        ended: list[GameRecord] = []
        restarted = np.zeros(self.n_envs, dtype=bool)
        for slot in range(self.n_envs):
            left = bool(self.learner_left[slot])
            engine = self.games.step(slot, actions[slot], opponent_actions[slot])
            player = 0 if left else 1
            reward[slot] = self.reward(engine, player)
            self.returns[slot] += reward[slot]
            next_obs[slot] = self.obs[slot]
            if engine.done:
                terminated[slot], truncated[slot] = engine.terminated, engine.truncated
                ended.append(
                    GameRecord(
                        game=None,
                        seed=None,
                        one_starting=engine.one_starts,
                        a_side="left" if left else "right",
                        outcome=self.games.outcome_for_a(slot),
                        length=engine.time,
                        mode=engine.mode.name.lower(),
                        opponent=self.labels[self.opponent[slot]],
                        episode_return=float(self.returns[slot]),
                        replaced=self.replaced.pop(slot, None),
                    )
                )
                self._start(slot, mode_for())
                restarted[slot] = True
        if restarted.any():
            self._reset_opponents(restarted)
        return next_obs, reward, terminated, truncated, ended

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        opponents = []
        for policy in self.policies:
            saver = getattr(policy, "training_state", None) or getattr(policy, "state_dict", None)
            opponents.append(saver() if saver is not None and not hasattr(policy, "agent") else {})
        return {
            "engines": [engine.get_state().to_dict() for engine in self.engines],
            "opponent": self.opponent.tolist(),
            "learner_left": self.learner_left.tolist(),
            "returns": self.returns.tolist(),
            "rng": self.rng.bit_generator.state,
            "opponents": opponents,
            "labels": list(self.labels),
            "probabilities": self.probabilities.tolist(),
        }

    def load_state_dict(self, state: dict, resolve=None) -> None:
        """Restore a saved collector. With ``resolve`` (label -> policy) the saved opponent mix
        replaces this one's (a league's mix changes over time); without, the mixes must agree.

        An opponent that ``resolve`` refuses (a ``ValueError``: a member whose file is gone) is
        dropped from the mix and listed in ``dropped``; its games in progress go on against the
        mix's likeliest opponent, and their ``GameRecord`` names the one they started against."""
        opponent = list(state["opponent"])
        self.dropped, self.replaced = [], {}
        if resolve is not None and len(state["engines"]) == self.n_envs:
            saved = dict(zip(state["labels"], state["probabilities"]))
            policies = {}
            for label in state["labels"]:
                try:
                    policies[label] = resolve(label)
                except ValueError as error:
                    self.dropped.append(str(error))
            if not any(saved[label] > 0 for label in policies):
                raise ValueError(f"no opponent of the saved mix can be restored: {'; '.join(self.dropped)}")
            self.started = False
            self.set_opponents({label: saved[label] for label in policies}, policies.__getitem__)
            if self.dropped:
                likeliest = max(policies, key=lambda label: saved[label])
                for slot, index in enumerate(opponent):
                    label = state["labels"][index]
                    if label not in policies:
                        self.replaced[slot] = label
                        label = likeliest
                    opponent[slot] = self.labels.index(label)
                kept = dict(zip(state["labels"], state["opponents"]))  # the opponents' own states, by label
                state = {**state, "labels": self.labels, "opponents": [kept[label] for label in self.labels]}
        if state["labels"] != self.labels or len(state["engines"]) != self.n_envs:
            raise ValueError(
                f"saved collector played {state['labels']} in {len(state['engines'])} games; "
                f"this run has {self.labels} in {self.n_envs}: resume with the same --opponents and --n-envs"
            )
        for engine, data in zip(self.engines, state["engines"]):
            engine.set_state(EngineState.from_dict(data), exact=True)
        self.opponent[:] = opponent
        self.learner_left[:] = state["learner_left"]
        self.returns[:] = state["returns"]
        self.rng.bit_generator.state = state["rng"]
        for policy, saved in zip(self.policies, state["opponents"]):
            loader = getattr(policy, "load_training_state", None) or getattr(policy, "load_state_dict", None)
            if saved and loader is not None:
                loader(saved)
        for slot in range(self.n_envs):
            self.games.write_views(slot)
        self.started = True
