"""A league's configuration: a TOML file, validated section by section with clear errors.

``league.toml`` names the learners (algorithm, config overrides, training settings, device), the
anchors, the opponent-sampling mix, the promotion rule, the evaluation settings and the budget.
``DEFAULT_TOML`` is the small CPU league ``python scripts/league.py`` runs with no arguments.
Every field has a default, so a config only states what differs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

import tomllib

from agents.checkpoint import CheckpointError, load_checkpoint
from agents.external import PREFIX, is_external
from agents.registry import canonical_name, check_external_opponent, entry, make_config
from agents.train import TrainConfig
from league.layout import config_file
from league.matchmaking import ANCHOR_SPLITS
from plumbing.config import config_from_dict, config_to_dict
from plumbing.files import atomic_write

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _project_path(text: str) -> Path:
    """A relative path as given when it names a file from the current directory, else from the
    project root when it names one there (models/... works from anywhere)."""
    path = Path(text)
    if not path.is_file() and not path.is_absolute() and (PROJECT_ROOT / path).is_file():
        return PROJECT_ROOT / path
    return path


# The TrainConfig fields a league sets itself (per learner or from the league), not the user.
_LEAGUE_OWNED = {"agent", "opponents", "steps", "run_dir", "seed", "device", "resume", "init", "set", "progress"}


@dataclass(frozen=True)
class LeagueSettings:
    seed: int = 0
    """Seeds every learner (plus its own seed) and every match."""
    anchors: tuple[str, ...] = ("weak", "strong")
    """Permanent scripted members with fixed ratings (weak and strong pin the rating scale)."""
    round_steps: int = 25_000
    """Training steps between a learner's snapshots (each snapshot is a promotion candidate)."""
    minutes: float = 10.0
    """Wall-time budget of one `scripts/league.py` run in minutes (0: until stopped)."""
    report_every: float = 30.0
    """Seconds between progress lines and leaderboard refreshes."""


@dataclass(frozen=True)
class MatchmakingSettings:
    pfsp: float = 0.5
    """Share of training games against pool members drawn by prioritized fictitious self-play."""
    latest_self: float = 0.2
    """Share against the learner's own latest snapshot."""
    anchors: float = 0.3
    """Share against the anchors."""
    externals: float = 0.0
    """Share against the league's external policies, split like the anchors' (0: they are PFSP
    pool members like any other; above 0 they leave the PFSP pool and always get this share)."""
    anchor_split: str = "even"
    """How the anchors' (and externals') share is split: even, or shortfall (in proportion to 1 - the learner's
    recent score against each, at least shortfall_floor: the anchor it beats least gets the most games)."""
    shortfall_floor: float = 0.05
    """The least part of 1 - x an anchor or external keeps under the shortfall split: one the learner
    beats every time still gets floor / (sum of the parts) of the group's games, so it is not forgotten."""
    weighting: str = "hard"
    """PFSP weighting over the learner's score x against a member: hard (1-x)^p or variance x(1-x)."""
    exponent: float = 2.0
    """p of the hard weighting."""
    window: int = 200
    """Recent training games per opponent that the learner's score is estimated from."""
    horizon: int = 3000
    """Only the learner's last this many training games (all opponents) count for those scores
    (about 7 rounds of 50k steps), so a rarely drawn opponent is judged by how the learner plays now."""
    max_opponents: int = 8
    """Pool members in one round's PFSP mix at most (drawn by PFSP weight)."""


@dataclass(frozen=True)
class PromotionSettings:
    min_games: int = 100
    """Games of a candidate against the current pool (anchors and top promoted members), at least."""
    opponents: int = 6
    """Promoted members it must face besides the anchors (the top-rated ones)."""
    anchor_games: int = 40
    """Games against each anchor, at least (both sides)."""
    threshold: float = 0.55
    """Promote when the lower confidence bound of the score (wins + draws/2) exceeds this."""
    confidence: float = 0.95
    """Confidence level of that bound."""
    exploiter_threshold: float = 0.7
    """An exploiter's snapshot joins the pool when it scores at least this against its targets
    (AlphaStar: 70%)."""
    league_exploiter_reset: float = 0.25
    """Chance that a league exploiter restarts from its starting weights after a promotion (AlphaStar: 0.25)."""
    head_to_head_games: int = 40
    """Games of a candidate against its learner's best promoted member (or starting model)."""
    head_to_head: float = 0.5
    """Score needed against that member, at least (0.5: at least even)."""
    anchor_tolerance: float = 0.0
    """Refused as weaker when the upper bound of its score against an anchor (or against the
    gate's promoted members together) falls below the best promoted member's score against the
    same opponents minus this."""
    externals: bool = False
    """The gate also faces each of the league's external policies, ``anchor_games`` games each, and
    judges the candidate against each as against an anchor: a line that gains against its own pool
    while it loses ground against agents from outside it is not promoted. Off: an external is faced
    only when it is among the ``opponents`` top-rated promoted members."""


@dataclass(frozen=True)
class EvaluationSettings:
    pairs_per_round: int = 2
    """Pairings a learner plays after each round, chosen to shrink rating uncertainty the most."""
    games_per_pair: int = 20
    """Games per pairing (half from each side)."""
    n_envs: int = 16
    """Games played at once in promotion and evaluation matches."""


@dataclass(frozen=True)
class LearnerSettings:
    name: str
    """Unique name: letters, digits, - and _ (names its run directory and ledger file)."""
    agent: str = "sac"
    """Registry name of the learning agent."""
    seed: int = 0
    """Added to the league seed."""
    device: str = "auto"
    """auto, cpu, cuda or cuda:N."""
    steps: int = 0
    """Total training steps of this learner (0: no limit)."""
    role: str = "main"
    """main (PFSP over the pool, self-play, anchors; promoted only when at least as strong as its
    best), main-exploiter (trains against the main learners' latest snapshots only; a snapshot that
    beats them joins the pool and the learner restarts from its starting weights) or
    league-exploiter (PFSP over the pool; restarts now and then after a promotion)."""
    init: str = ""
    """A policy checkpoint to start from (weights only; empty: from scratch). A relative path is
    looked up from the current directory, then from the project root (models/... works anywhere)."""

    @property
    def init_path(self) -> Path | None:
        if not self.init:
            return None
        return _project_path(self.init)

    round_steps: int = 0
    """Training steps between this learner's snapshots (0: the league's round_steps); a slow
    algorithm snapshots as often in wall time as a fast one with a smaller number."""
    set: dict = field(default_factory=dict)
    """Agent config overrides, e.g. {gamma = 0.98}; with init, they change the init policy's config."""
    train: dict = field(default_factory=dict)
    """TrainConfig overrides: n_envs, updates_per_step, learning_starts, buffer_size, threads, ..."""


@dataclass(frozen=True)
class ExternalSettings:
    name: str
    """Unique name: letters, digits, - and _ (the member is NAME-<first 8 of its sha256>)."""
    policy: str = ""
    """py:PATH.py:FUNCTION (agents/external.py), or a policy checkpoint (.pt) played frozen. A
    relative PATH is looked up from the current directory, then from the project root. (Leagues
    made before 2026-11-28's third session wrote this key as ``player``; it is read as ``policy``.)"""
    fixed_rating: float | None = None
    """A TrueSkill mu to pin it at, as the anchors are (basic-strong 25, basic-weak 23), for a
    policy whose strength is known; none: rated from its games. Taken when it first joins."""

    @property
    def spec(self) -> str:
        """The policy with its file's path resolved (what the league loads)."""
        python = is_external(self.policy)
        path, sep, function = self.policy[len(PREFIX) :].rpartition(":") if python else (self.policy, "", "")
        file = _project_path(path)
        if not file.is_file() or (python and not sep):
            return self.policy
        return f"{PREFIX}{file.resolve()}:{function}" if python else str(file.resolve())


@dataclass(frozen=True)
class LeagueConfig:
    league: LeagueSettings = LeagueSettings()
    matchmaking: MatchmakingSettings = MatchmakingSettings()
    promotion: PromotionSettings = PromotionSettings()
    evaluation: EvaluationSettings = EvaluationSettings()
    learners: tuple[LearnerSettings, ...] = ()
    externals: tuple[ExternalSettings, ...] = ()
    """Policies written with other code (classmates' agents, old agents): members from the start,
    opponents in training and rating games like any promoted member, never trained."""

    def learner(self, name: str) -> LearnerSettings:
        for learner in self.learners:
            if learner.name == name:
                return learner
        raise ValueError(f"no learner {name!r} in this league; learners: {', '.join(l.name for l in self.learners)}")

    def to_toml(self) -> str:
        """The config as TOML (what a league directory keeps as league.toml)."""
        lines = []
        for section in ("league", "matchmaking", "promotion", "evaluation"):
            lines.append(f"[{section}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in config_to_dict(getattr(self, section)).items()]
            lines.append("")
        for learner in self.learners:
            lines.append("[[learners]]")
            for key, value in config_to_dict(learner).items():
                if key not in ("set", "train"):
                    lines.append(f"{key} = {_toml_value(value)}")
            for key in ("set", "train"):
                lines.append(f"{key} = {_toml_value(getattr(learner, key))}")
            lines.append("")
        for external in self.externals:
            lines += ["[[externals]]", f"name = {_toml_value(external.name)}",
                      f"policy = {_toml_value(external.policy)}"]  # fmt: skip
            if external.fixed_rating is not None:
                lines.append(f"fixed_rating = {_toml_value(external.fixed_rating)}")
            lines.append("")
        return "\n".join(lines)

    def round_steps(self, learner: LearnerSettings) -> int:
        """Training steps between the learner's snapshots."""
        return learner.round_steps or self.league.round_steps

    def train_config(self, learner: LearnerSettings, run_dir: str | Path, run: int = 0) -> TrainConfig:
        """The TrainConfig one learner's trainer runs with (``run``: how often it restarted from
        its starting weights; each restart draws new seeds)."""
        values = {
            **{"eval_every": 0, "checkpoint_every": self.round_steps(learner), "threads": 1},
            **learner.train,
            "agent": learner.agent,
            "opponents": ",".join(canonical_name(a) for a in self.league.anchors),
            "steps": learner.steps or 10**15,
            "run_dir": str(run_dir),
            "seed": self.league.seed + learner.seed + 1000 * run,
            "device": learner.device,
            "resume": True,
            "init": str(learner.init_path) if learner.init else "",
            "set": tuple(f"{k}={v!r}" for k, v in learner.set.items()),
            "progress": False,
        }
        return config_from_dict(TrainConfig, values, where=f"train settings of learner {learner.name!r}")


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r} as TOML")


DEFAULT_TOML = """\
# The default league on CPU: one learner of each algorithm, each continuing from its shipped model
# (models/), and the course's two BasicOpponents as anchors. Within its 10 minutes on a 2-core
# machine every learner snapshots at least once, so all three algorithms are rated against each
# other and the bots. Every field not stated here takes its default (see league/config.py).

[league]
seed = 0
anchors = ["weak", "strong"]
round_steps = 8000      # a snapshot (promotion candidate) per learner every 8k steps
minutes = 10            # a run's wall-time budget; run again to continue (0: until stopped)

[matchmaking]
pfsp = 0.5
latest_self = 0.2
anchors = 0.3
weighting = "hard"

[promotion]
min_games = 100
anchor_games = 40
threshold = 0.55

[evaluation]
pairs_per_round = 2
games_per_pair = 20

[[learners]]
name = "sac"
agent = "sac"
seed = 1
init = "models/sac-hockey/policy.pt"
train = {learning_starts = 4000}

[[learners]]
name = "tdmpc2"
agent = "tdmpc2"
seed = 2
init = "models/tdmpc2-hockey/policy.pt"
round_steps = 4000      # TD-MPC2's updates are dearer too
train = {learning_starts = 2000}

[[learners]]
name = "muzero"
agent = "muzero"
seed = 3
init = "models/muzero-hockey/policy.pt"
round_steps = 4000      # MuZero's search makes each step dearer: it snapshots after fewer steps
train = {learning_starts = 2000, updates_per_step = 0.125}
"""

ROLES = ("main", "main-exploiter", "league-exploiter")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def parse_config(text: str, where: str = "league config") -> LeagueConfig:
    """Parse and validate a league config from TOML text; errors name the field and what is expected."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{where} is not valid TOML: {error}") from error
    _refuse_non_finite(data, where)
    sections = {"league": LeagueSettings, "matchmaking": MatchmakingSettings, "promotion": PromotionSettings,
                "evaluation": EvaluationSettings}  # fmt: skip
    unknown = sorted(set(data) - set(sections) - {"learners", "externals"})
    if unknown:
        raise ValueError(
            f"{where}: unknown section(s) {unknown}; expected {sorted(sections) + ['learners', 'externals']}"
        )
    values = {}
    for name, cls in sections.items():
        section = data.get(name, {})
        if not isinstance(section, dict):
            raise ValueError(f"{where}: [{name}] must be a table")
        values[name] = config_from_dict(cls, section, where=f"{where} [{name}]")
    for name, cls in (("learners", LearnerSettings), ("externals", ExternalSettings)):
        tables = data.get(name, [])
        if not isinstance(tables, list) or not all(isinstance(item, dict) for item in tables):
            raise ValueError(f"{where}: {name} must be an array of tables ([[{name}]])")
        if name == "externals":  # the key's earlier name
            tables = [{("policy" if k == "player" else k): v for k, v in item.items()} for item in tables]
        values[name] = tuple(
            config_from_dict(cls, item, where=f"{where} [[{name}]] #{i + 1}") for i, item in enumerate(tables)
        )
    config = LeagueConfig(**values)
    _validate(config, where)
    return config


def _refuse_non_finite(value, where: str, key: str = "") -> None:
    """TOML allows nan and inf; no league setting means either (minutes = nan would run forever)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where}: {key} must be a finite number, got {value!r}")
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for name, item in items:
        _refuse_non_finite(item, where, f"{key}.{name}" if key else str(name))


def _validate(config: LeagueConfig, where: str) -> None:
    def fail(field_name: str, expected: str, got) -> None:
        raise ValueError(f"{where}: {field_name} must be {expected}, got {got!r}")

    league, mm, promo, ev = config.league, config.matchmaking, config.promotion, config.evaluation
    if not league.anchors:
        fail("[league] anchors", "a non-empty list of scripted players (weak, strong, random, idle)", league.anchors)
    for anchor in league.anchors:
        try:
            item = entry(anchor)
        except ValueError as error:
            raise ValueError(f"{where}: [league] anchors: {error}") from None
        if item.learns:
            fail("[league] anchors", "scripted players (weak, strong, random, idle)", anchor)
    if len({canonical_name(a) for a in league.anchors}) != len(league.anchors):
        fail("[league] anchors", "distinct players", league.anchors)
    if league.round_steps < 1:
        fail("[league] round_steps", "a positive number of steps", league.round_steps)
    if league.minutes < 0:
        fail("[league] minutes", ">= 0 (0: until stopped)", league.minutes)
    if league.report_every <= 0:
        fail("[league] report_every", "a positive number of seconds", league.report_every)
    shares = (mm.pfsp, mm.latest_self, mm.anchors, mm.externals)
    if min(shares) < 0 or sum(shares) <= 0:
        fail("[matchmaking] pfsp, latest_self, anchors and externals", "shares >= 0 with a positive sum", shares)
    if mm.weighting not in ("hard", "variance"):
        fail("[matchmaking] weighting", "'hard' or 'variance'", mm.weighting)
    if mm.anchor_split not in ANCHOR_SPLITS:
        fail("[matchmaking] anchor_split", " or ".join(repr(x) for x in ANCHOR_SPLITS), mm.anchor_split)
    if not 0 < mm.shortfall_floor <= 1:
        fail("[matchmaking] shortfall_floor", "a number in (0, 1]", mm.shortfall_floor)
    if mm.exponent <= 0:
        fail("[matchmaking] exponent", "positive", mm.exponent)
    if mm.window < 1 or mm.max_opponents < 1 or mm.horizon < 1:
        fail("[matchmaking] window, horizon and max_opponents", "positive", (mm.window, mm.horizon, mm.max_opponents))
    if promo.min_games < 2 or promo.anchor_games < 0 or promo.opponents < 0:
        fail("[promotion] min_games (>= 2), anchor_games and opponents (>= 0)", "in range",
             (promo.min_games, promo.anchor_games, promo.opponents))  # fmt: skip
    if promo.head_to_head_games < 2 or not 0 <= promo.head_to_head <= 1 or promo.anchor_tolerance < 0:
        fail("[promotion] head_to_head_games (>= 2), head_to_head (a score in [0, 1]) and anchor_tolerance (>= 0)",
             "in range", (promo.head_to_head_games, promo.head_to_head, promo.anchor_tolerance))  # fmt: skip
    if not 0 < promo.exploiter_threshold <= 1 or not 0 <= promo.league_exploiter_reset <= 1:
        fail("[promotion] exploiter_threshold (0, 1] and league_exploiter_reset [0, 1]", "in range",
             (promo.exploiter_threshold, promo.league_exploiter_reset))  # fmt: skip
    if not 0 < promo.threshold < 1:
        fail("[promotion] threshold", "a score strictly between 0 and 1", promo.threshold)
    if not 0.5 < promo.confidence < 1:
        fail("[promotion] confidence", "a level between 0.5 and 1 (e.g. 0.95)", promo.confidence)
    if ev.pairs_per_round < 0 or ev.games_per_pair < 0 or ev.n_envs < 1:
        fail("[evaluation] pairs_per_round, games_per_pair (>= 0) and n_envs (>= 1)", "in range",
             (ev.pairs_per_round, ev.games_per_pair, ev.n_envs))  # fmt: skip
    if not config.learners:
        fail("learners", "at least one [[learners]] table", [])
    names = [learner.name for learner in config.learners]
    for learner in config.learners:
        label = f"[[learners]] {learner.name!r}"
        if not _NAME.match(learner.name):
            fail(f"{label} name", "letters, digits, '-' and '_' (starting with a letter or digit)", learner.name)
        if names.count(learner.name) > 1:
            fail(f"{label} name", "unique", learner.name)
        try:
            item = entry(learner.agent)
        except ValueError as error:
            raise ValueError(f"{where}: {label} agent: {error}") from None
        if not item.learns:
            fail(f"{label} agent", "a learning agent (sac, ...)", learner.agent)
        if learner.role not in ROLES:
            fail(f"{label} role", f"one of {', '.join(ROLES)}", learner.role)
        if learner.role == "main-exploiter" and not any(other.role == "main" for other in config.learners):
            fail(f"{label} role", "main-exploiter only in a league with a main learner to exploit", learner.role)
        if learner.steps < 0:
            fail(f"{label} steps", ">= 0 (0: no limit)", learner.steps)
        if learner.round_steps < 0:
            fail(f"{label} round_steps", ">= 0 (0: the league's round_steps)", learner.round_steps)
        if learner.init:
            try:
                load_checkpoint(learner.init_path, algorithm=canonical_name(learner.agent))
            except CheckpointError as error:
                expected = f"a {learner.agent} policy checkpoint"
                raise ValueError(f"{where}: {label} init must be {expected}: {error}") from None
        make_config(learner.agent, learner.set, where=f"{where} {label} set")
        owned = sorted(set(learner.train) & _LEAGUE_OWNED)
        if owned:
            fail(f"{label} train", f"free of fields the league sets itself ({', '.join(sorted(_LEAGUE_OWNED))})",
                 owned)  # fmt: skip
        known = {f.name for f in fields(TrainConfig)}
        unknown = sorted(set(learner.train) - known)
        if unknown:
            fail(f"{label} train", f"TrainConfig fields ({', '.join(sorted(known - _LEAGUE_OWNED))})", unknown)
        config.train_config(learner, "unused")  # type errors in train settings surface here
    for external in config.externals:
        label = f"[[externals]] {external.name!r}"
        if not _NAME.match(external.name):
            fail(f"{label} name", "letters, digits, '-' and '_' (starting with a letter or digit)", external.name)
        if external.name in names or [e.name for e in config.externals].count(external.name) > 1:
            fail(f"{label} name", "unique among learners and externals", external.name)
        try:
            check_external_opponent(external.spec)
        except (ValueError, FileNotFoundError) as error:
            raise ValueError(f"{where}: {label} policy: {error}") from None


def load_config(path: str | Path) -> LeagueConfig:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"league config {path} does not exist")
    return parse_config(path.read_text(), where=str(path))


def default_config() -> LeagueConfig:
    return parse_config(DEFAULT_TOML, where="the default league config")


def open_league(league_dir: str | Path, config_path: str | Path | None = None, create: bool = False) -> LeagueConfig:
    """The config of the league in ``league_dir``, creating the league if asked.

    A new league stores its config as ``league_dir/league.toml`` (the default config when
    ``config_path`` is None). An existing league keeps its own unless ``config_path`` is given,
    which replaces it (learners are matched by name; their training runs continue).
    """
    league_dir = Path(league_dir)
    stored = config_file(league_dir)
    if config_path is not None:
        config = load_config(config_path)
    elif stored.is_file():
        return load_config(stored)
    elif create:
        config = default_config()
    else:
        raise FileNotFoundError(
            f"{league_dir} holds no league ({stored} is missing); create one with scripts/league.py"
        )
    text = config.to_toml()
    if not stored.is_file() or stored.read_text() != text:
        league_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(stored, lambda file: file.write(text.encode()))
    return config
