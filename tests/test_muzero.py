"""MuZero: the value transform and supports, MCTS on tiny known games, batched search against
separate searches, n-step targets on a hand-made trajectory, prioritized replay, checkpoint round
trip and determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents import load_policy, make_agent, save_policy
from agents.common.buffer import ReplayBuffer
from agents.common.distributional import (
    inverse_value_transform,
    scalar_to_support,
    support_to_scalar,
    value_transform,
)
from agents.common.sum_tree import SumTree
from agents.muzero import MuZeroConfig
from agents.muzero.losses import decision_steps, n_step_targets
from agents.muzero.maxmin import maxmin_search
from agents.muzero.mcts import _completed_q, _halving_schedule, _Trees, search
from agents.muzero.networks import MuZeroNetwork

SMALL = {"device": "cpu", "latent_dim": 16, "hidden_dim": 32, "num_simulations": 8, "batch_size": 8, "unroll_steps": 3,
         "td_steps": 3}  # fmt: skip


def test_value_transform_and_support_round_trip():
    x = torch.tensor([-400.0, -10.0, -1.0, -0.1, 0.0, 0.3, 2.0, 10.0, 250.0], dtype=torch.float64)
    assert torch.allclose(inverse_value_transform(value_transform(x)), x, atol=1e-9)
    assert value_transform(torch.tensor(3.0)) == pytest.approx(1.0 + 0.003)
    support = scalar_to_support(x[1:-1], 15)
    assert support.shape == (7, 31) and torch.allclose(support.sum(-1), torch.ones(7, dtype=torch.float64))
    decoded = support_to_scalar(torch.log(support.clamp(min=1e-30)), 15)
    assert torch.allclose(decoded, x[1:-1], atol=1e-6)
    # finer points: step 0.25 puts h(x) = 1.003 (x = 3) a quarter past the point 1.0, i.e. between
    # the points 1.0 and 1.25 (indices 19 and 20 of -15..15), and covers |h| <= 3.75 (|x| < 18)
    fine = scalar_to_support(torch.tensor([3.0, -10.0, 100.0], dtype=torch.float64), 15, step=0.25)
    assert fine[0, 19] == pytest.approx(1 - 0.003 / 0.25) and fine[0, 20] == pytest.approx(0.003 / 0.25)
    assert fine[2, -1] == 1.0  # beyond the support: the end point
    decoded = support_to_scalar(torch.log(fine.clamp(min=1e-30)), 15, step=0.25)
    assert torch.allclose(decoded[:2], torch.tensor([3.0, -10.0], dtype=torch.float64), atol=1e-6)


class _KnownGame(torch.nn.Module):
    """A fake model: the state remembers the moves so far; ``rewarding(state, action)`` pays 1."""

    def __init__(self, num_actions: int, support: int, rewarding):
        super().__init__()
        self.num_actions, self.support, self.rewarding = num_actions, support, rewarding

    def _logits(self, values: torch.Tensor) -> torch.Tensor:
        return torch.log(scalar_to_support(values, self.support).clamp(min=1e-12))

    def initial(self, obs):
        batch = obs.shape[0]
        zeros = torch.zeros(batch)
        return torch.zeros(batch, 2), torch.zeros(batch, self.num_actions), self._logits(zeros)

    def recurrent(self, state, action):
        reward = torch.tensor([float(self.rewarding(s, int(a))) for s, a in zip(state.tolist(), action.tolist())])
        depth = state[:, 1] + 1
        next_state = torch.stack([torch.where(depth == 1, action.float(), state[:, 0]), depth], dim=1)
        zeros = torch.zeros(state.shape[0])
        return next_state, self._logits(reward), torch.zeros(state.shape[0], self.num_actions), self._logits(zeros)


@pytest.mark.parametrize("gumbel", [False, True])
def test_search_finds_the_rewarding_move(gumbel):
    config = MuZeroConfig(num_simulations=60, support_size=5, gumbel=gumbel, max_considered_actions=25)
    game = _KnownGame(config.num_actions, 5, lambda state, action: action == 17 and state[1] == 0)
    streams = [np.random.default_rng(i) for i in range(3)]
    result = search(game, torch.zeros(3, 18), streams, config, explore=False)
    assert result.action.tolist() == [17, 17, 17]
    assert np.allclose(result.policy.sum(axis=1), 1) and (result.policy.argmax(axis=1) == 17).all()
    assert result.visits.sum(axis=1).tolist() == [60, 60, 60]


def test_search_looks_ahead_two_moves():
    # only move 3 after move 1 pays: move 1 itself earns nothing
    config = MuZeroConfig(actions="original-8", num_simulations=200, support_size=5, discount=0.9)
    game = _KnownGame(8, 5, lambda state, action: state[1] == 1 and state[0] == 1 and action == 3)
    result = search(game, torch.zeros(2, 18), [np.random.default_rng(0), np.random.default_rng(1)], config, False)
    assert result.action.tolist() == [1, 1]
    assert result.value == pytest.approx([0.9, 0.9], abs=0.3)


@pytest.mark.parametrize("gumbel", [False, True])
def test_batched_search_equals_separate_searches(gumbel):
    config = MuZeroConfig(num_simulations=12, latent_dim=16, hidden_dim=32, gumbel=gumbel, max_considered_actions=8)
    torch.manual_seed(0)
    network = MuZeroNetwork(config, 18).eval()
    for parameter in network.parameters():  # random weights instead of the zero-initialised heads
        torch.nn.init.normal_(parameter, std=0.3)
    obs = torch.as_tensor(np.random.default_rng(0).normal(size=(4, 18)), dtype=torch.float32)
    together = search(network, obs, [np.random.default_rng([7, i]) for i in range(4)], config, explore=True)
    for i in range(4):
        alone = search(network, obs[i : i + 1], [np.random.default_rng([7, i])], config, explore=True)
        assert alone.action[0] == together.action[i]
        assert np.allclose(alone.policy[0], together.policy[i], atol=1e-4)  # float32 batch rounding
        assert np.allclose(alone.visits[0], together.visits[i])


def test_halving_schedule_uses_every_simulation():
    schedule = _halving_schedule(50, 16)
    assert len(schedule) == 50
    assert schedule[:16] == [0] * 16  # first every considered action once
    assert schedule[16:24] == [1] * 8  # then the better half a second time, and so on
    assert _halving_schedule(60, 25)[:25] == [0] * 25


def test_n_step_targets_on_a_hand_made_trajectory():
    reward = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]])
    bootstrap = torch.tensor([[10.0, 20.0, 30.0, 40.0, 50.0, 60.0]])  # value of the state after each step
    none = torch.zeros(1, 6)
    g = 0.5
    z = n_step_targets(reward, none, none, bootstrap, g, td_steps=2, positions=3)
    assert z.tolist() == [[1 + g * 2 + g**2 * 20, 2 + g * 3 + g**2 * 30, 3 + g * 4 + g**2 * 40]]
    # a goal at step 1: the sum stops there, nothing is bootstrapped after it
    done = torch.tensor([[0.0, 1.0, 0.0, 0.0, 0.0, 0.0]])
    z = n_step_targets(reward, done, done, bootstrap, g, td_steps=3, positions=2)
    assert z[0].tolist() == [1 + g * 2, 2]
    # a time-out at step 1: bootstrapped from the value after it
    z = n_step_targets(reward, done, none, bootstrap, g, td_steps=3, positions=2)
    assert z[0].tolist() == [1 + g * 2 + g**2 * 20, 2 + g * 20]
    with pytest.raises(ValueError, match="transitions"):
        n_step_targets(reward, none, none, bootstrap, g, td_steps=5, positions=3)


def test_decision_steps_fold_held_frames_on_a_hand_made_trajectory():
    # frames 0-1 end a hold begun before the sequence; decisions at frames 2, 5 (held 3 frames)
    # and 8, where a goal at frame 9 ends the episode; frame 10 starts the next one
    reward = torch.tensor([[9.0, 9.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 9.0]])
    done = torch.zeros(1, 12)
    done[0, 9] = 1.0
    decision = torch.zeros(1, 12)
    decision[0, [2, 5, 8, 10]] = 1.0
    g = 0.5
    steps = decision_steps(reward, done, done, decision, repeat=3, discount=g, steps=3)
    assert steps["first"].tolist() == [[2, 5, 8]]
    assert steps["last"].tolist() == [[4, 7, 9]]  # the third decision ends with the goal
    assert steps["reward"].tolist() == [[1 + g * 2 + g**2 * 3, 4 + g * 5 + g**2 * 6, 7 + g * 8]]
    assert steps["done"].tolist() == steps["terminated"].tolist() == [[0.0, 0.0, 1.0]]
    assert steps["mask"].tolist() == [[1.0, 1.0, 1.0]]
    # an episode that ends inside the first decision masks the later ones out
    done = torch.zeros(1, 12)
    done[0, 3] = 1.0
    steps = decision_steps(reward, done, torch.zeros(1, 12), decision, repeat=3, discount=g, steps=3)
    assert steps["reward"][0, 0] == 1 + g * 2 and steps["last"][0, 0] == 3
    assert steps["mask"].tolist() == [[1.0, 0.0, 0.0]] and steps["terminated"].sum() == 0
    with pytest.raises(ValueError, match="frames"):
        decision_steps(reward, done, done, decision, repeat=3, discount=g, steps=4)


def test_moves_are_held_and_a_new_game_chooses_at_once():
    agent = make_agent("muzero", overrides={**SMALL, "action_repeat": 3}, seed=1)
    obs = np.random.default_rng(0).normal(size=(2, 18)).astype(np.float32)
    agent.reset(np.ones(2, dtype=bool))
    moves, decisions = [], []
    for frame in range(6):
        if frame == 4:
            agent.reset(np.array([True, False]))  # game 0 starts anew inside its hold
        agent.act(obs + frame, explore=True)
        moves.append(agent.last_extras()["action_index"].copy())
        decisions.append(agent.last_extras()["decision"].copy())
    assert np.array(decisions).T.tolist() == [[1, 0, 0, 1, 1, 0], [1, 0, 0, 1, 0, 0]]
    moves = np.array(moves).T
    assert (moves[:, 1:3] == moves[:, :1]).all() and (moves[1, 4:] == moves[1, 3]).all()
    assert moves[0, 5] == moves[0, 4]


def test_prioritized_sequences_prefer_high_priority_starts():
    buffer = ReplayBuffer(200, 2, 3, 1, extras={"tag": ()}, prioritized=True)
    for t in range(50):
        buffer.add(np.full((2, 3), t), np.zeros((2, 1)), np.zeros(2), np.zeros((2, 3)), [False] * 2, [False] * 2,
                   extras={"tag": np.array([t, t])})  # fmt: skip
    rng = np.random.default_rng(0)
    batch = buffer.sample_sequences(64, 4, rng, alpha=1.0)
    buffer.update_priorities(batch.index, np.full(64, 1e-3))
    buffer.update_priorities((np.array([10]), np.array([1])), np.array([1e3]))
    later = buffer.sample_sequences(200, 4, rng, alpha=1.0)
    assert (later.obs[:, 0, 0] == 10).float().mean() > 0.5
    assert torch.equal(later.extras["tag"][:, 0], later.obs[:, 0, 0])
    assert later.weights.shape == (200,) and later.weights.max() == 1.0
    with pytest.raises(ValueError, match="positive"):
        buffer.update_priorities(later.index, np.zeros(200))


def test_sum_tree_sums_finds_and_refuses_bad_weights():
    tree = SumTree(5)  # 8 leaves, 3 unused
    tree.build(np.array([1.0, 0.0, 2.0, 3.0, 4.0]))
    assert tree.total == 10.0
    masses = np.array([0.0, 0.999, 1.0, 2.999, 3.0, 5.999, 6.0, 9.999])
    assert tree.find(masses).tolist() == [0, 0, 2, 2, 3, 3, 4, 4]  # leaf 1 (weight 0) is never found
    tree.set(np.array([4, 1, 4]), np.array([9.0, 0.5, 0.0]))  # the last of a repeated index wins
    assert tree.total == 6.5 and tree.get(np.array([1, 4])).tolist() == [0.5, 0.0]
    other = SumTree(5)
    other.build(np.array([1.0, 0.5, 2.0, 3.0, 0.0]))
    assert np.array_equal(other.nodes, tree.nodes)  # set and build give the same sums
    with pytest.raises(ValueError, match=">= 0"):
        tree.set(np.array([0]), np.array([-1.0]))


def test_prioritized_draws_follow_priorities_over_the_valid_starts():
    # a full ring whose newest rows cannot start a sequence of 4: starts come only from valid rows,
    # with frequencies priority^alpha / sum over valid rows, and matching importance weights
    buffer = ReplayBuffer(20, 2, 1, 1, prioritized=True)
    for t in range(13):
        buffer.add(np.full((2, 1), t), np.zeros((2, 1)), np.zeros(2), np.zeros((2, 1)), [False] * 2, [False] * 2)
    priorities = np.arange(1, 21, dtype=np.float64).reshape(10, 2)
    buffer.update_priorities(np.divmod(np.arange(20), 2), priorities.ravel())
    batch = buffer.sample_sequences(40_000, 4, np.random.default_rng(0), alpha=0.5, beta=1.0)
    first = batch.obs[:, 0, 0].numpy().astype(int)  # the step written at the start row
    valid = (np.arange(3, 10) % 10)  # oldest row 3 (steps 3..9 then 10..12 in rows 0..2); starts 3..9
    expected = np.zeros((13, 2))
    for row in valid:
        expected[row] = priorities[row] ** 0.5
    expected /= expected.sum()
    counts = np.zeros((13, 2))
    np.add.at(counts, (first, batch.index[1]), 1)
    assert np.abs(counts / counts.sum() - expected).max() < 0.01
    p = expected[first, batch.index[1]]
    weights = 1 / (p * 14)
    assert np.allclose(batch.weights.numpy(), weights / weights.max(), rtol=1e-5)


def _filled_buffer(agent) -> ReplayBuffer:
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(400, 2, 18, 4, extras=agent.buffer_extras, prioritized=True)
    for t in range(60):
        actions = agent.random_act(2, rng)
        buffer.add(rng.normal(size=(2, 18)), actions, rng.normal(size=2), rng.normal(size=(2, 18)),
                   [t % 25 == 24] * 2, [False] * 2, extras=agent.last_extras())  # fmt: skip
    return buffer


@pytest.mark.parametrize("repeat", [1, 3])
def test_bootstrap_is_evaluated_only_where_the_targets_read_it(repeat):
    agent = make_agent("muzero", overrides={**SMALL, "action_repeat": repeat}, seed=3)
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(400, 2, 18, 4, extras=agent.buffer_extras)
    for t in range(120):  # goals and time-outs, both inside the sampled windows
        buffer.add(rng.normal(size=(2, 18)), agent.random_act(2, rng), rng.normal(size=2), rng.normal(size=(2, 18)),
                   [t % 29 == 28, False], [False, t % 31 == 30], extras=agent.last_extras())  # fmt: skip
    steps = agent._decisions(buffer.sample_sequences(64, agent.sequence_length, rng))
    positions, config = agent.config.unroll_steps + 1, agent.config
    assert ((steps["done"] > 0) & (steps["terminated"] == 0)).any() and (steps["terminated"] > 0).any()
    with torch.no_grad():
        _, _, values = agent.target_network.initial(steps["next_obs"].flatten(0, 1))
        every = support_to_scalar(values, config.support_size, config.support_step).view_as(steps["done"])
        needed = agent._bootstrap(steps, positions)
    ends = (steps["reward"], steps["done"], steps["terminated"])
    targets = [n_step_targets(*ends, bootstrap, config.decision_discount, config.td_steps, positions)
               for bootstrap in (every, needed)]  # fmt: skip
    assert torch.allclose(targets[0], targets[1], atol=1e-5)
    assert (needed == 0).float().mean() > 0.3  # it skipped the states no target reads


@pytest.mark.parametrize("repeat", [1, 3])
def test_update_is_deterministic_and_sets_priorities(repeat):
    runs = []
    for _ in range(2):
        overrides = {**SMALL, "consistency_coef": 2.0, "reanalyze_ratio": 0.5, "action_repeat": repeat}
        agent = make_agent("muzero", overrides=overrides, seed=4)
        buffer, rng = _filled_buffer(agent), np.random.default_rng(1)
        metrics = []
        for _ in range(5):
            batch = buffer.sample_sequences(8, agent.sequence_length, rng, **agent.sampling)
            metrics.append(agent.update(batch))
            buffer.update_priorities(batch.index, agent.last_priorities)
        runs.append((metrics, agent.act(np.zeros((2, 18), dtype=np.float32))))
    assert runs[0][0] == runs[1][0] and np.array_equal(runs[0][1], runs[1][1])
    assert set(runs[0][0][0]) >= {"value_loss", "reward_loss", "policy_loss", "consistency_loss"}


def test_checkpoint_round_trip_gives_identical_moves(tmp_path):
    agent = make_agent("muzero", overrides=SMALL, seed=2)
    buffer, rng = _filled_buffer(agent), np.random.default_rng(0)
    agent.update(buffer.sample_sequences(8, agent.sequence_length, rng, **agent.sampling))
    save_policy(tmp_path / "muzero.pt", agent, step=3)
    obs = np.random.default_rng(5).normal(size=(3, 18)).astype(np.float32)
    first, second = load_policy(tmp_path / "muzero.pt", "cpu"), load_policy(tmp_path / "muzero.pt", "cpu")
    moves = first.act(obs)
    assert np.array_equal(moves, second.act(obs))
    assert all(any(np.array_equal(move, row) for row in first.agent.actions.table) for move in moves)


def test_resume_takes_the_configured_lr_and_keeps_the_optimizer_moments():
    agent = make_agent("muzero", overrides=SMALL, seed=2)
    buffer, rng = _filled_buffer(agent), np.random.default_rng(0)
    agent.update(buffer.sample_sequences(8, agent.sequence_length, rng, **agent.sampling))
    saved = agent.training_state()
    resumed = make_agent("muzero", overrides={**SMALL, "lr": 1e-5}, seed=2)
    resumed.load_training_state(saved)
    assert [group["lr"] for group in resumed.optimizer.param_groups] == [1e-5] * len(saved["optimizer"]["param_groups"])
    moments = [state["exp_avg"] for state in resumed.optimizer.state_dict()["state"].values()]
    assert moments and all(torch.equal(a, b["exp_avg"]) for a, b in zip(moments, saved["optimizer"]["state"].values()))


@pytest.mark.parametrize(
    ("values", "message"),
    [({"actions": "moves-99"}, "actions"), ({"gumbel": True, "max_considered_actions": 1}, "considered"),
     ({"reanalyze_ratio": 2.0}, "reanalyze_ratio"), ({"td_steps": 0}, "td_steps"),
     ({"action_repeat": 0}, "action_repeat"), ({"search": "beam"}, "search"),
     ({"search": "maxmin", "reanalyze_ratio": 0.5}, "needs search=mcts"), ({"maxmin_epsilon": 1.5}, "epsilon"),
     ({"opponent_reply": "best"}, "opponent_reply")],
)  # fmt: skip
def test_bad_configs_are_refused(values, message):
    with pytest.raises(ValueError, match=message):
        MuZeroConfig(**values)


def test_completed_q_spreads_small_gaps_between_children_over_the_unit_interval():
    """Gumbel's policy improvement sees the children's value gaps however small they are next
    to the values elsewhere in the tree (per-node min-max, as the paper's reference code)."""
    trees = _Trees(batch=1, nodes=2, actions=3, latent=1, device="cpu")
    trees.low[:], trees.high[:] = -10.0, 10.0  # values seen elsewhere in the tree
    trees.prior[0, 0] = [0.5, 0.25, 0.25]
    trees.visits[0, 0] = [2, 1, 0]
    trees.value_sum[0, 0] = [2 * 0.101, 0.100, 0.0]  # Q = 0.101 and 0.100; action 2 unvisited
    trees.node_value[0, 0] = 0.1004
    q = _completed_q(trees, np.array([0]), np.array([0]))
    # the unvisited child gets the mixed value (v + sum N * prior-weighted Q) / (1 + sum N)
    mixed = (0.1004 + 3 * (0.5 * 0.101 + 0.25 * 0.100) / 0.75) / 4
    expected = (np.array([0.101, 0.100, mixed]) - 0.100) / 0.001
    assert np.allclose(q[0], expected)
    assert q[0].min() == 0.0 and q[0].max() == 1.0


class _JointGame(torch.nn.Module):
    """A fake opponent-aware model: one decision pays ``payoff[own move, opponent move]``."""

    def __init__(self, payoff: np.ndarray, table: np.ndarray, support: int):
        super().__init__()
        self.payoff, self.table, self.support = payoff, torch.tensor(table), support

    def _logits(self, values: torch.Tensor) -> torch.Tensor:
        return torch.log(scalar_to_support(values, self.support).clamp(min=1e-12))

    def initial(self, obs):
        zeros = torch.zeros(obs.shape[0])
        return torch.zeros(obs.shape[0], 1), torch.zeros(obs.shape[0], self.payoff.shape[0]), self._logits(zeros)

    def opponent_logits(self, state):  # the opponent always plays its move 0
        return torch.log(torch.nn.functional.one_hot(torch.zeros(state.shape[0], dtype=torch.long), 8) + 1e-9)

    def recurrent(self, state, action, opponent):
        which = (opponent[:, None, :] == self.table[None]).all(-1).float().argmax(1)  # the opponent's move index
        reward = torch.as_tensor(self.payoff[action.numpy(), which.numpy()], dtype=torch.float32)
        zeros = torch.zeros(state.shape[0])
        return state, self._logits(reward), torch.zeros(state.shape[0], self.payoff.shape[0]), self._logits(zeros)


def test_maxmin_plays_the_move_with_the_best_worst_case():
    config = MuZeroConfig(actions="original-8", search="maxmin", support_size=5, maxmin_epsilon=0.0)
    table = make_agent("muzero", overrides={"actions": "original-8", "device": "cpu"}).actions.table
    payoff = np.zeros((8, 8))
    payoff[3] = 2.0  # move 3 pays most on average ...
    payoff[3, 5] = -2.0  # ... but one reply punishes it
    payoff[6] = 0.5  # move 6 pays less, whatever the reply
    game = _JointGame(payoff, table, 5)
    result = maxmin_search(game, torch.zeros(2, 18), torch.tensor(table), [np.random.default_rng(i) for i in range(2)],
                           config, explore=True)  # fmt: skip
    assert result.action.tolist() == [6, 6]
    assert result.value == pytest.approx([0.5, 0.5], abs=1e-3)
    assert np.allclose(result.policy.sum(axis=1), 1) and (result.policy.argmax(axis=1) == 6).all()
    always_random = MuZeroConfig(actions="original-8", search="maxmin", support_size=5, maxmin_epsilon=1.0)
    moves = [maxmin_search(game, torch.zeros(1, 18), torch.tensor(table), [np.random.default_rng(seed)],
                           always_random, explore=True).action[0] for seed in range(40)]  # fmt: skip
    assert len(set(moves)) > 4  # exploring plays uniformly random moves
    predicted = MuZeroConfig(actions="original-8", search="maxmin", opponent_reply="predicted", support_size=5)
    result = maxmin_search(game, torch.zeros(1, 18), torch.tensor(table), [np.random.default_rng(0)], predicted, False)
    assert result.action.tolist() == [3] and result.value == pytest.approx([2.0], abs=1e-3)  # reply 0 never punishes


def test_the_opponent_head_learns_which_move_a_fixed_opponent_plays():
    agent = make_agent("muzero", overrides={**SMALL, "search": "maxmin", "opponent_reply": "predicted", "lr": 3e-3},
                       seed=0)  # fmt: skip
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(400, 2, 18, 4, extras=agent.buffer_extras)
    for t in range(80):  # the opponent pushes up-left (move 10 of moves-25), with a little noise
        agent.random_act(2, rng)
        extras = {**agent.last_extras(), "opponent_action": agent.actions.table[10] + rng.normal(0, 0.05, (2, 4))}
        buffer.add(rng.normal(size=(2, 18)), np.zeros((2, 4)), rng.normal(size=2), rng.normal(size=(2, 18)),
                   [t % 25 == 24] * 2, [False] * 2, extras=extras)  # fmt: skip
    first = agent.update(buffer.sample_sequences(8, agent.sequence_length, rng))["opponent_loss"]
    for _ in range(40):
        last = agent.update(buffer.sample_sequences(8, agent.sequence_length, rng))["opponent_loss"]
    assert last < 0.2 * first
    state = agent.network.initial(torch.as_tensor(rng.normal(size=(5, 18)), dtype=torch.float32))[0]
    assert (agent.network.opponent_logits(state).argmax(-1) == 10).all()


def test_maxmin_batched_equals_separate_and_the_dynamics_need_the_opponent():
    agent = make_agent("muzero", overrides={**SMALL, "search": "maxmin"}, seed=1)
    for parameter in agent.network.parameters():
        torch.nn.init.normal_(parameter, std=0.3)
    obs = torch.as_tensor(np.random.default_rng(0).normal(size=(4, 18)), dtype=torch.float32)
    moves = agent._opponent_moves
    together = maxmin_search(agent.network, obs, moves, [np.random.default_rng([3, i]) for i in range(4)],
                             agent.config, explore=True)  # fmt: skip
    for i in range(4):
        alone = maxmin_search(agent.network, obs[i : i + 1], moves, [np.random.default_rng([3, i])], agent.config, True)
        assert alone.action[0] == together.action[i] and np.allclose(alone.policy[0], together.policy[i], atol=1e-4)
    state = agent.network.initial(obs)[0]
    with pytest.raises(ValueError, match="opponent action"):
        agent.network.recurrent(state, torch.zeros(4, dtype=torch.long))


def test_opponent_actions_are_averaged_over_each_decisions_frames():
    agent = make_agent("muzero", overrides={**SMALL, "search": "maxmin", "action_repeat": 3}, seed=0)
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(400, 2, 18, 4, extras=agent.buffer_extras)
    for t in range(90):
        agent.random_act(2, rng)
        extras = {**agent.last_extras(), "opponent_action": rng.normal(size=(2, 4))}
        buffer.add(rng.normal(size=(2, 18)), np.zeros((2, 4)), rng.normal(size=2), rng.normal(size=(2, 18)),
                   [t % 20 == 19, False], [False, False], extras=extras)  # fmt: skip
        if t % 20 == 19:
            agent.reset(np.array([True, False]))
    batch = buffer.sample_sequences(16, agent.sequence_length, rng)
    steps = agent._decisions(batch)
    opponent = batch.extras["opponent_action"].numpy()
    first, last = [x.numpy() for x in decision_steps(batch.reward, batch.done, batch.terminated,
                   batch.extras["decision"], 3, agent.config.discount, 6).values()][:2]  # fmt: skip
    for row in range(16):
        for step in range(6):
            expected = opponent[row, first[row, step] : last[row, step] + 1].mean(axis=0)
            assert np.allclose(steps["opponent_action"][row, step].numpy(), expected, atol=1e-6)
