"""Agent speed: SAC gradient updates per second (batch 256, 256-256 networks) and actions per
second for a batch of 64 observations, next to a plain eager single-file SAC in the same process.

    python benchmarks/bench_agents.py [--threads 1 2] [--rounds 5] [--updates 100] [--compile]
    python benchmarks/bench_agents.py --mish    # TD-MPC2 with the sigmoid-form Mish vs PyTorch's
    python benchmarks/bench_agents.py --muzero-search [--lightzero-python /tmp/lzvenv/bin/python]

The baseline below is written the way a plain single-file SAC usually is (CleanRL's structure:
two separate Q modules, three optimizers, actor and temperature losses backpropagated
separately, a Python loop for the target update); ``LeanSAC`` is the same structure without the
avoidable work (see its docstring). All implementations are timed in alternating
rounds on the same batches, so the ratio survives a noisy shared machine. CUDA is measured too
when a GPU is present.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from agents.base import AgentSpec
from agents.common.buffer import ReplayBuffer
from agents.sac import SACAgent, SACConfig

OBS, ACT, BATCH, HIDDEN = 18, 4, 256, 256


# ---------------------------------------------------------------------------- plain eager baseline
class _Q(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(OBS + ACT, HIDDEN), nn.Linear(HIDDEN, HIDDEN), nn.Linear(HIDDEN, 1)

    def forward(self, obs, action):
        x = torch.cat([obs, action], 1)
        return self.fc3(functional.relu(self.fc2(functional.relu(self.fc1(x)))))


class _Actor(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(OBS, HIDDEN), nn.Linear(HIDDEN, HIDDEN)
        self.mean, self.log_std = nn.Linear(HIDDEN, ACT), nn.Linear(HIDDEN, ACT)

    def forward(self, obs):
        x = functional.relu(self.fc2(functional.relu(self.fc1(obs))))
        log_std = -5 + 0.5 * 7 * (torch.tanh(self.log_std(x)) + 1)
        return self.mean(x), log_std

    def get_action(self, obs):
        mean, log_std = self(obs)
        normal = torch.distributions.Normal(mean, log_std.exp())
        x = normal.rsample()
        y = torch.tanh(x)
        log_prob = normal.log_prob(x) - torch.log(1 - y.pow(2) + 1e-6)
        return y, log_prob.sum(1, keepdim=True), torch.tanh(mean)


class PlainSAC:
    """The reference point: a straightforward eager SAC update."""

    def __init__(self, device):
        self.device = device
        self.actor = _Actor().to(device)
        self.q1, self.q2, self.q1_target, self.q2_target = (_Q().to(device) for _ in range(4))
        self.q1_target.load_state_dict(self.q1.state_dict())
        self.q2_target.load_state_dict(self.q2.state_dict())
        self.q_optimizer = torch.optim.Adam(list(self.q1.parameters()) + list(self.q2.parameters()), lr=3e-4)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=3e-4)
        self.log_alpha = torch.zeros(1, requires_grad=True, device=device)
        self.alpha_optimizer = torch.optim.Adam([self.log_alpha], lr=3e-4)

    def update(self, batch):
        alpha = self.log_alpha.exp().item()
        with torch.no_grad():
            next_action, next_log_prob, _ = self.actor.get_action(batch.next_obs)
            q_next = torch.min(self.q1_target(batch.next_obs, next_action), self.q2_target(batch.next_obs, next_action))
            target = batch.reward + 0.99 * (1 - batch.terminated) * (q_next - alpha * next_log_prob).view(-1)
        q1, q2 = self.q1(batch.obs, batch.action).view(-1), self.q2(batch.obs, batch.action).view(-1)
        q_loss = functional.mse_loss(q1, target) + functional.mse_loss(q2, target)
        self.q_optimizer.zero_grad()
        q_loss.backward()
        self.q_optimizer.step()
        action, log_prob, _ = self.actor.get_action(batch.obs)
        q_pi = torch.min(self.q1(batch.obs, action), self.q2(batch.obs, action))
        actor_loss = (alpha * log_prob - q_pi).mean()
        self.actor_optimizer.zero_grad()
        actor_loss.backward()
        self.actor_optimizer.step()
        with torch.no_grad():
            _, log_prob, _ = self.actor.get_action(batch.obs)
        alpha_loss = (-self.log_alpha.exp() * (log_prob + -ACT)).mean()
        self.alpha_optimizer.zero_grad()
        alpha_loss.backward()
        self.alpha_optimizer.step()
        for online, target_net in ((self.q1, self.q1_target), (self.q2, self.q2_target)):
            for p, tp in zip(online.parameters(), target_net.parameters()):
                tp.data.copy_(0.005 * p.data + 0.995 * tp.data)
        return {"q_loss": q_loss.item(), "actor_loss": actor_loss.item()}

    def act(self, obs, explore=False):
        with torch.no_grad():
            sample, _, greedy = self.actor.get_action(torch.as_tensor(obs, device=self.device))
            return (sample if explore else greedy).cpu().numpy()


class LeanSAC:
    """The lean reference: the same SAC written plainly and carefully in eager PyTorch. CleanRL's
    structure (two Q modules, the critic step, then the actor step, then the temperature step, each
    with its own backward and optimizer), with both critics under one Adam and a Python loop of
    in-place lerps for the target update, but none of the avoidable work: the squashed Gaussian's
    log-probability written out (no ``torch.distributions``), the temperature loss reusing the
    actor step's log-probabilities (no third actor pass), alpha kept as a tensor (no ``.item()``)."""

    def __init__(self, device):
        PlainSAC.__init__(self, device)  # the same networks and optimizers
        self.q_params = list(self.q1.parameters()) + list(self.q2.parameters())
        self.target_params = list(self.q1_target.parameters()) + list(self.q2_target.parameters())

    def sample(self, obs):
        mean, log_std = self.actor(obs)
        noise = torch.randn_like(mean)
        u = mean + log_std.exp() * noise
        action = torch.tanh(u)
        log_prob = (-0.5 * noise.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(1)
        return action, log_prob - torch.log(1 - action.pow(2) + 1e-6).sum(1)

    def update(self, batch):
        alpha = self.log_alpha.detach().exp()
        with torch.no_grad():
            next_action, next_log_prob = self.sample(batch.next_obs)
            q_next = torch.min(self.q1_target(batch.next_obs, next_action), self.q2_target(batch.next_obs, next_action))
            target = batch.reward + 0.99 * (1 - batch.terminated) * (q_next.view(-1) - alpha * next_log_prob)
        q1, q2 = self.q1(batch.obs, batch.action).view(-1), self.q2(batch.obs, batch.action).view(-1)
        q_loss = functional.mse_loss(q1, target) + functional.mse_loss(q2, target)
        self.q_optimizer.zero_grad()
        q_loss.backward()
        self.q_optimizer.step()
        action, log_prob = self.sample(batch.obs)
        q_pi = torch.min(self.q1(batch.obs, action), self.q2(batch.obs, action)).view(-1)
        actor_loss = (alpha * log_prob - q_pi).mean()
        self.actor_optimizer.zero_grad()
        actor_loss.backward()
        self.actor_optimizer.step()
        alpha_loss = -(self.log_alpha * (log_prob.detach() - ACT)).mean()
        self.alpha_optimizer.zero_grad()
        alpha_loss.backward()
        self.alpha_optimizer.step()
        with torch.no_grad():
            for online, target_param in zip(self.q_params, self.target_params):
                target_param.lerp_(online, 0.005)
        return {"q_loss": q_loss.detach(), "actor_loss": actor_loss.detach()}

    def act(self, obs, explore=False):
        with torch.no_grad():
            obs = torch.as_tensor(obs, device=self.device)
            return (self.sample(obs)[0] if explore else torch.tanh(self.actor(obs)[0])).cpu().numpy()


# ---------------------------------------------------------------------------- timing
def _filled_buffer(device) -> ReplayBuffer:
    rng = np.random.default_rng(0)
    buffer = ReplayBuffer(50_000, 16, OBS, ACT, device=device)
    for _ in range(2_000):
        buffer.add(rng.normal(size=(16, OBS)), rng.uniform(-1, 1, (16, ACT)), rng.normal(size=16),
                   rng.normal(size=(16, OBS)), rng.random(16) < 0.01, np.zeros(16, dtype=bool))  # fmt: skip
    return buffer


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_updates(contestants: dict, device, rounds: int, updates: int) -> dict[str, float]:
    buffer = _filled_buffer(device)
    rng = np.random.default_rng(1)
    batches = [buffer.sample(BATCH, rng) for _ in range(updates)]
    for agent in contestants.values():  # warm-up (and compilation, where enabled)
        for batch in batches[:10]:
            agent.update(batch)
    elapsed = dict.fromkeys(contestants, 0.0)
    for _ in range(rounds):
        for name, agent in contestants.items():
            _sync(device)
            start = time.perf_counter()
            for batch in batches:
                agent.update(batch)
            _sync(device)
            elapsed[name] += time.perf_counter() - start
    return {name: rounds * updates / seconds for name, seconds in elapsed.items()}


def bench_actions(contestants: dict, device, rounds: int, calls: int = 300) -> dict[str, float]:
    obs = np.random.default_rng(2).normal(size=(64, OBS)).astype(np.float32)
    elapsed = dict.fromkeys(contestants, 0.0)
    for _ in range(rounds):
        for name, agent in contestants.items():
            start = time.perf_counter()
            for _ in range(calls):
                agent.act(obs, explore=True)
            elapsed[name] += time.perf_counter() - start
    return {name: rounds * calls * 64 / seconds for name, seconds in elapsed.items()}


def bench_tdmpc2(device: torch.device, model_size: str, batches=(1, 16, 64), updates: int = 10) -> dict:
    """TD-MPC2 (default planner: 128 samples, 4 iterations, horizon 3): milliseconds per planned
    action for a batch of games, and updates per second (batch 256 subsequences of 3 steps)."""
    from agents.tdmpc2 import TDMPC2Agent, TDMPC2Config

    agent = TDMPC2Agent(TDMPC2Config(model_size=model_size, device=device.type), AgentSpec(), seed=0)
    rng = np.random.default_rng(3)
    plan_ms = {}
    for size in batches:
        obs = rng.normal(size=(size, OBS)).astype(np.float32)
        agent.act(obs)  # warm-up: allocations, per-game generators
        repeats = max(1, min(5, 64 // size))
        _sync(device)
        start = time.perf_counter()
        for _ in range(repeats):
            agent.act(obs)
        _sync(device)
        plan_ms[size] = 1000 * (time.perf_counter() - start) / repeats
    buffer = _filled_buffer(device)
    batches_ = [buffer.sample_sequences(256, agent.sequence_length, rng) for _ in range(updates)]
    agent.update(batches_[0])
    _sync(device)
    start = time.perf_counter()
    for batch in batches_:
        agent.update(batch)
    _sync(device)
    return {"plan_ms": plan_ms, "updates_per_s": updates / (time.perf_counter() - start)}


def _move_ms(agent, device: torch.device, batches) -> dict[int, float]:
    """Milliseconds per exploring move of ``agent`` for each batch size of games."""
    rng = np.random.default_rng(4)
    move_ms = {}
    for size in batches:
        obs = rng.normal(size=(size, OBS)).astype(np.float32)
        agent.act(obs, explore=True)  # warm-up
        repeats = max(1, min(5, 64 // size))
        _sync(device)
        start = time.perf_counter()
        for _ in range(repeats):
            agent.act(obs, explore=True)
        _sync(device)
        move_ms[size] = 1000 * (time.perf_counter() - start) / repeats
    return move_ms


def bench_muzero(device: torch.device, batches=(1, 16, 64), simulations: int = 50) -> dict:
    """MuZero (default network, 25 moves): milliseconds per move for a batch of games with
    ``simulations`` simulations each, and simulations per second over all games of the batch;
    and the same moves chosen by one-decision max-min (``search="maxmin"``: 25 x 25 joint moves
    per game through the opponent-aware dynamics in one call)."""
    from agents.muzero import MuZeroAgent, MuZeroConfig

    agent = MuZeroAgent(MuZeroConfig(num_simulations=simulations, device=device.type), AgentSpec(), seed=0)
    move_ms = _move_ms(agent, device, batches)
    maxmin = MuZeroAgent(MuZeroConfig(search="maxmin", device=device.type), AgentSpec(), seed=0)
    per_second = {size: size * simulations * 1000 / ms for size, ms in move_ms.items()}
    return {"move_ms": move_ms, "simulations_per_s": per_second, "maxmin_move_ms": _move_ms(maxmin, device, batches)}


MUZERO_WEIGHTS = "models/muzero-hockey/policy.pt"


def game_observations(games: int, seed: int = 0) -> np.ndarray:
    """(games, 18) observations from real hockey positions: each game played from its own seeded
    start with random actions for 0-120 frames (the trained model's trees on them grow as deep as
    in play; random vectors give shallow trees)."""
    from arena.single import HockeySingleEnv

    rng = np.random.default_rng(seed)
    out = []
    for game in range(games):
        env = HockeySingleEnv("weak")
        obs, _ = env.reset(seed=seed * 1000 + game)
        for _ in range(int(rng.integers(0, 120))):
            obs, _, terminated, truncated, _ = env.step(rng.uniform(-1, 1, 4).astype(np.float32))
            if terminated or truncated:
                obs, _ = env.reset()
        out.append(obs)
    return np.stack(out).astype(np.float32)


def lightzero_search(network, config):
    """LightZero 0.2.0's C++ tree (``MuZeroMCTSCtree``) on our network, called as its MuZero
    policy's ``_forward_collect`` calls it: initial inference, Dirichlet noise, ``roots.prepare``,
    ``search``, visit distributions and values, an action sampled from the visit counts. Returns
    ``search(obs) -> actions``; raises ImportError where ``lzero`` does not import."""
    from easydict import EasyDict
    from lzero.mcts.tree_search.mcts_ctree import MuZeroMCTSCtree
    from lzero.policy.utils import select_action

    from agents.common.distributional import value_transform
    from agents.muzero.mcts import to_scalar

    categorical = config.support_step == 1.0  # LightZero's support -S..S has step 1: it reads our logits

    class Model:  # LightZero's recurrent_inference interface over our network
        def eval(self):
            network.eval()

        def recurrent_inference(self, latent_state, action):
            state, reward, policy, value = network.recurrent(latent_state, action)
            if not categorical:  # LightZero applies h^-1 to what it gets: hand it h(x)
                reward, value = (value_transform(to_scalar(t, config)).unsqueeze(1) for t in (reward, value))
            return EasyDict(latent_state=state, reward=reward, policy_logits=policy, value=value)

    tree = MuZeroMCTSCtree(EasyDict(
        num_simulations=config.num_simulations, discount_factor=config.decision_discount,
        pb_c_base=config.pb_c_base, pb_c_init=config.pb_c_init, root_dirichlet_alpha=config.dirichlet_alpha,
        root_noise_weight=config.dirichlet_weight, value_delta_max=0.01, device="cpu",
        model=EasyDict(support_scale=config.support_size, categorical_distribution=categorical),
    ))  # fmt: skip
    model, actions = Model(), list(range(config.num_actions))

    def search(obs: torch.Tensor) -> np.ndarray:
        games = obs.shape[0]
        with torch.no_grad():
            state, policy_logits, value_logits = network.initial(obs)
            _ = to_scalar(value_logits, config).cpu().numpy()  # the predicted value, as _forward_collect reads it
            latent_roots = state.cpu().numpy()
            logits = policy_logits.cpu().numpy().tolist()
        noises = [np.random.dirichlet([config.dirichlet_alpha] * config.num_actions).astype(np.float32).tolist()
                  for _ in range(games)]  # fmt: skip
        roots = MuZeroMCTSCtree.roots(games, [actions] * games)
        roots.prepare(config.dirichlet_weight, noises, [0.0] * games, logits, [-1] * games)
        tree.search(roots, model, latent_roots, [-1] * games)
        distributions, _ = roots.get_distributions(), roots.get_values()
        return np.array([select_action(d, temperature=config.temperature, deterministic=False)[0]
                         for d in distributions])  # fmt: skip

    return search


def bench_muzero_search(weights: str = MUZERO_WEIGHTS, batches=(1, 16, 64), simulations: int = 50,
                        rounds: int = 5, gumbel: bool = False) -> dict:  # fmt: skip
    """Milliseconds per search of ``simulations`` simulations (exploring) for each batch of games,
    on the trained ``weights`` and real game positions: ``mcts.search``, the level-by-level
    ``levelwise.search_levelwise`` (the search before each game descended only to its own leaf)
    and, where ``lzero`` imports and the rule is pUCT, LightZero's C++ tree on the same network.
    Implementations alternate within each round; medians over rounds."""
    import dataclasses

    from agents.muzero.levelwise import search_levelwise
    from agents.muzero.mcts import search
    from agents.registry import load_agent

    agent = load_agent(weights, device="cpu")
    config = dataclasses.replace(agent.config, num_simulations=simulations, gumbel=gumbel,
                                 max_considered_actions=min(16, agent.config.num_actions))  # fmt: skip
    network = agent.network.eval()
    contestants = {
        "ours": lambda x, g: search(network, x, g, config, explore=True),
        "level by level": lambda x, g: search_levelwise(network, x, g, config, explore=True),
    }
    lightzero = "not run: Gumbel search (LightZero's MuZeroMCTSCtree is pUCT)" if gumbel else None
    if not gumbel:
        try:
            tree_search = lightzero_search(network, config)
            contestants["LightZero ctree"] = lambda x, g: tree_search(x)
        except ImportError as error:
            lightzero = f"skipped: LightZero does not import here ({error})"
    obs = game_observations(max(batches))
    times: dict[str, dict[int, list[float]]] = {name: {size: [] for size in batches} for name in contestants}
    for size in batches:
        x = torch.as_tensor(obs[:size])
        for round_ in range(rounds + 1):  # round 0 is a warm-up
            for name, run in contestants.items():
                np.random.seed(round_)
                generators = [np.random.default_rng([round_, game]) for game in range(size)]
                start = time.perf_counter()
                run(x, generators)
                if round_:
                    times[name][size].append(1000 * (time.perf_counter() - start))
    ms = {name: {size: float(np.median(v)) for size, v in by_size.items()} for name, by_size in times.items()}
    return {"weights": weights, "simulations": simulations, "rule": "gumbel" if gumbel else "puct", "ms": ms,
            "lightzero": lightzero or "ran"}  # fmt: skip


def print_muzero_search(result: dict) -> None:
    ms = result["ms"]
    sizes = list(next(iter(ms.values())))
    print(f"\nMuZero search on {result['weights']}, {result['simulations']} simulations, {result['rule']}, "
          "exploring; ms per search (median over rounds), and each implementation's time / ours")  # fmt: skip
    print("| implementation | " + " | ".join(f"B={size}" for size in sizes) + " |")
    print("|---|" + "---:|" * len(sizes))
    for name, by_size in ms.items():
        cells = " | ".join(f"{by_size[size]:.1f} ({by_size[size] / ms['ours'][size]:.2f}x)" for size in sizes)
        print(f"| {name} | {cells} |")
    if result["lightzero"] != "ran":
        print(f"LightZero baseline {result['lightzero']}")


def bench_mish(rounds: int = 3, updates: int = 10) -> dict[str, dict[str, list[float]]]:
    """TD-MPC2 (cpu size) on CPU with this project's sigmoid-form Mish against PyTorch's Mish
    kernel, in alternating rounds in one process: updates per second, ms per plan for 1 and 64
    games."""
    import agents.common.nets as nets
    from agents.tdmpc2 import TDMPC2Agent, TDMPC2Config

    agent = TDMPC2Agent(TDMPC2Config(device="cpu"), AgentSpec(), seed=0)
    rng = np.random.default_rng(3)
    buffer = _filled_buffer(torch.device("cpu"))
    batches = [buffer.sample_sequences(256, agent.sequence_length, rng) for _ in range(updates)]
    obs = {size: rng.normal(size=(size, OBS)).astype(np.float32) for size in (1, 64)}
    kinds = {"sigmoid form": nets._SigmoidMish.apply, "pytorch kernel": functional.mish}
    out: dict[str, dict[str, list[float]]] = {name: {"updates_per_s": [], "plan_ms_1": [], "plan_ms_64": []}
                                              for name in kinds}  # fmt: skip
    try:
        for _ in range(rounds):
            for name, function in kinds.items():
                nets._SigmoidMish.apply = function  # what nets.mish calls on CPU
                start = time.perf_counter()
                for batch in batches:
                    agent.update(batch)
                out[name]["updates_per_s"].append(updates / (time.perf_counter() - start))
                for size, x in obs.items():
                    agent.act(x)  # warm-up for this batch size
                    repeats = 5 if size == 1 else 1
                    start = time.perf_counter()
                    for _ in range(repeats):
                        agent.act(x)
                    out[name][f"plan_ms_{size}"].append(1000 * (time.perf_counter() - start) / repeats)
    finally:
        nets._SigmoidMish.apply = kinds["sigmoid form"]
    return out


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as file:
            return next(line.split(":", 1)[1].strip() for line in file if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="CPU thread counts to measure")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--updates", type=int, default=100, help="updates per round and contestant")
    parser.add_argument("--compile", action="store_true", help="also time SAC with config.compile=True")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--tdmpc2", nargs="*", default=["cpu", "5M"], metavar="SIZE",
                        help="TD-MPC2 model sizes to time (default: cpu 5M; none: skip)")
    parser.add_argument("--no-sac", action="store_true", help="skip the SAC comparison")
    parser.add_argument("--no-muzero", action="store_true", help="skip the MuZero search timing")
    parser.add_argument("--muzero-search", action="store_true",
                        help="only: MuZero search on the trained weights, ours against the level-by-level search "
                             "and LightZero's C++ tree (where lzero imports), 1 thread")  # fmt: skip
    parser.add_argument("--gumbel", action="store_true", help="with --muzero-search: the Gumbel rule instead of pUCT")
    parser.add_argument("--lightzero-python", default=None, metavar="PYTHON",
                        help="with --muzero-search, where lzero does not import here: an interpreter where it does "
                             "(a separate venv); the whole search comparison then runs there")  # fmt: skip
    parser.add_argument("--mish", action="store_true",
                        help="only: TD-MPC2 with the sigmoid-form Mish against PyTorch's kernel, per thread count")
    args = parser.parse_args()
    if args.muzero_search:
        torch.set_num_threads(1)
        if args.lightzero_python and importlib.util.find_spec("lzero") is None:
            command = [args.lightzero_python, __file__, "--muzero-search", "--rounds", str(args.rounds)]
            root = str(Path(__file__).resolve().parents[1])  # the project need not be installed there
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
            sys.exit(subprocess.run(command + (["--gumbel"] if args.gumbel else []), env=env).returncode)
        print(f"torch {torch.__version__}, {platform.machine()}, {cpu_name()}, 1 thread, python {sys.executable}")
        print_muzero_search(bench_muzero_search(rounds=args.rounds, gumbel=args.gumbel))
        return
    if args.mish:
        for threads in args.threads:
            torch.set_num_threads(threads)
            for name, values in bench_mish().items():
                print(f"{threads} thread(s), {name}: " + ", ".join(
                    f"{key} median {np.median(v):.1f} (rounds {', '.join(f'{x:.1f}' for x in v)})"
                    for key, v in values.items()))  # fmt: skip
        return
    devices = [("cpu", t) for t in args.threads]
    if torch.cuda.is_available():
        devices.append(("cuda", None))
    results, tdmpc2_results, muzero_results = [], [], []
    for device_name, threads in devices:
        if threads is not None:
            torch.set_num_threads(threads)
        device = torch.device(device_name)
        torch.manual_seed(0)
        where = f"{device_name}" + (f", {threads} thread{'s' if threads > 1 else ''}" if threads else "")
        contestants = {}
        if not args.no_sac:
            contestants = {"plain eager SAC": PlainSAC(device), "lean eager SAC": LeanSAC(device),
                           "hockey-league SAC": SACAgent(SACConfig(device=device_name), AgentSpec())}
            if device_name == "cpu":  # the default there writes its gradients by hand; autograd's beside it
                contestants["hockey-league SAC, autograd"] = SACAgent(SACConfig(device="cpu", gradients="autograd"))
        if args.compile and contestants:
            contestants["hockey-league SAC, compiled"] = SACAgent(SACConfig(device=device_name, compile=True))
        updates = bench_updates(contestants, device, args.rounds, args.updates) if contestants else {}
        actions = bench_actions(contestants, device, args.rounds) if contestants else {}
        if not args.no_muzero:
            muzero_results.append({"device": where, **bench_muzero(device)})
        for name in contestants:
            results.append({"device": where, "implementation": name, "updates_per_s": updates[name],
                            "actions_per_s_batch64": actions[name],
                            "speedup_vs_plain": updates[name] / updates["plain eager SAC"],
                            "speedup_vs_lean": updates[name] / updates["lean eager SAC"]})
        for size in args.tdmpc2:
            timing = bench_tdmpc2(device, size)
            tdmpc2_results.append({"device": where, "model_size": size, **timing})
    if args.json:
        print(json.dumps({"machine": platform.processor() or platform.machine(), "torch": torch.__version__,
                          "results": results, "tdmpc2": tdmpc2_results, "muzero": muzero_results}, indent=2))
        return
    print(f"torch {torch.__version__}, {platform.machine()}, batch {BATCH}, networks {HIDDEN}-{HIDDEN}")
    print("| device | implementation | updates/s | vs plain | vs lean | actions/s (batch 64) |")
    print("|---|---|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['device']} | {r['implementation']} | {r['updates_per_s']:.0f} | {r['speedup_vs_plain']:.2f}x "
              f"| {r['speedup_vs_lean']:.2f}x | {r['actions_per_s_batch64']:,.0f} |")
    if tdmpc2_results:
        print("\nTD-MPC2, planned actions (default planner) and updates (batch 256, horizon 3)")
        print("| device | model | ms/plan B=1 | B=16 | B=64 | B=64 / B=1 | updates/s |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for r in tdmpc2_results:
            ms = r["plan_ms"]
            print(f"| {r['device']} | {r['model_size']} | {ms[1]:.1f} | {ms[16]:.1f} | {ms[64]:.1f} "
                  f"| {ms[64] / ms[1]:.1f}x | {r['updates_per_s']:.1f} |")
    if muzero_results:
        print("\nMuZero, one move with 50 simulations (batched search over all games)")
        print("| device | ms B=1 | B=16 | B=64 | B=64 / B=1 | simulations/s at B=64 | max-min ms B=1 | B=16 | B=64 |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in muzero_results:
            ms, mm = r["move_ms"], r["maxmin_move_ms"]
            print(f"| {r['device']} | {ms[1]:.1f} | {ms[16]:.1f} | {ms[64]:.1f} | {ms[64] / ms[1]:.1f}x "
                  f"| {r['simulations_per_s'][64]:,.0f} | {mm[1]:.1f} | {mm[16]:.1f} | {mm[64]:.1f} |")


if __name__ == "__main__":
    main()
