"""The hockey game on real Box2D: one game, stepped with both players' actions.

Written from shared/specs/hockey.md. Dynamics, observations, rewards, info values, episode
length and the keep-puck mechanic match the original hockey package (v2.6); the deliberate
differences listed in the spec are implemented here and documented at their place:

- observations are float32;
- every reset builds a fresh Box2D world laid out exactly like the original's first episode,
  so an episode depends on its seed and actions only, never on earlier episodes (in the
  original, broad-phase proxy ids left over from earlier episodes can change contact order);
- hold timers are cleared at reset;
- a time-out is ``truncated``, a goal is ``terminated``; an ended game must be reset;
- the full state can be captured and restored (``get_state`` / ``set_state``).

Speed: the original spends >90% of a step in Python around a ~4 us Box2D step. Here each body
is read once per step into plain floats, the control law runs on those floats, and the
observation is built from them in one array construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from Box2D import (
    b2CircleShape,
    b2ContactListener,
    b2FixtureDef,
    b2PolygonShape,
    b2World,
)

from arena.hockey.constants import (
    CENTER_X,
    CENTER_Y,
    DT,
    FORCE_MULTIPLIER,
    GOAL_SIZE,
    MAX_ANGLE,
    MAX_PUCK_SPEED,
    MAX_TIME_KEEP_PUCK,
    MAX_TIMESTEPS,
    PLAYER_MAX_SPEED,
    POSITION_ITERATIONS,
    PUCK_DENSITY,
    PUCK_RADIUS,
    RACKET_DENSITY,
    RACKET_FACTOR,
    RACKET_POLY_PX,
    SCALE,
    SHOOT_FORCE_MULTIPLIER,
    TORQUE_MULTIPLIER,
    VELOCITY_ITERATIONS,
    ZONE,
    H,
    Mode,
    W,
)

_F32 = np.float32
_PUCK, _P1, _P2, _GOAL1, _GOAL2 = "puck", "player_1", "player_2", "goal_1", "goal_2"


class _Listener(b2ContactListener):
    """Goals and catches start when a contact begins (during the contact update of world.Step)."""

    def __init__(self, engine: HockeyEngine):
        super().__init__()
        self.engine = engine

    def BeginContact(self, contact):  # noqa: N802 (Box2D's callback name)
        tag_a = contact.fixtureA.body.userData
        tag_b = contact.fixtureB.body.userData
        if tag_a == _PUCK:
            other = tag_b
        elif tag_b == _PUCK:
            other = tag_a
        else:
            return
        engine = self.engine
        if other == _GOAL2:
            engine.done, engine.winner = True, 1
        elif other == _GOAL1:
            engine.done, engine.winner = True, -1
        elif engine.keep_mode and other in (_P1, _P2):
            engine._begin_catch(other == _P1)


@dataclass
class EngineState:
    """Everything needed to continue a game exactly where it was captured.

    ``bodies`` holds rows (x, y, angle, vx, vy, angular velocity) for player 1, player 2 and the
    puck in world units; the rest are the game's counters. ``history`` is the game's record since
    its reset (the placement and every action), which lets ``set_state(exact=True)`` rebuild the
    Box2D world bit for bit, solver warm-start included.
    """

    mode: Mode
    keep_mode: bool
    bodies: np.ndarray
    awake: tuple[bool, bool, bool]
    timers: tuple[int, int]
    time: int
    done: bool
    winner: int
    one_starts: bool
    rng_state: dict
    pending_kick: tuple[float, float] | None
    touching: frozenset[tuple[str, str]]
    history: _History = field(repr=False)

    def to_dict(self) -> dict:
        """The state as plain Python data (ints, floats, lists, dicts), e.g. for a
        ``torch.load(weights_only=True)`` training checkpoint."""
        mode, one_starts, p2, puck, kick_target = self.history.placement
        return {
            "mode": int(self.mode),
            "keep_mode": bool(self.keep_mode),
            "bodies": self.bodies.tolist(),
            "awake": list(self.awake),
            "timers": list(self.timers),
            "time": int(self.time),
            "done": bool(self.done),
            "winner": int(self.winner),
            "one_starts": bool(self.one_starts),
            "rng_state": self.rng_state,
            "pending_kick": None if self.pending_kick is None else list(self.pending_kick),
            "touching": [list(pair) for pair in sorted(self.touching)],
            "placement": [int(mode), bool(one_starts), list(p2), list(puck),
                          None if kick_target is None else list(kick_target)],
            "actions": [[list(a1), list(a2)] for a1, a2 in self.history.actions],
        }

    @classmethod
    def from_dict(cls, data: dict) -> EngineState:
        """Inverse of ``to_dict``."""
        mode, one_starts, p2, puck, kick_target = data["placement"]
        placement = (Mode(mode), bool(one_starts), tuple(p2), tuple(puck),
                     None if kick_target is None else tuple(kick_target))
        return cls(
            mode=Mode(data["mode"]),
            keep_mode=bool(data["keep_mode"]),
            bodies=np.array(data["bodies"], dtype=np.float64),
            awake=tuple(bool(a) for a in data["awake"]),
            timers=tuple(int(t) for t in data["timers"]),
            time=int(data["time"]),
            done=bool(data["done"]),
            winner=int(data["winner"]),
            one_starts=bool(data["one_starts"]),
            rng_state=data["rng_state"],
            pending_kick=None if data["pending_kick"] is None else tuple(data["pending_kick"]),
            touching=frozenset(tuple(pair) for pair in data["touching"]),
            history=_History(placement, [(list(a1), list(a2)) for a1, a2 in data["actions"]]),
        )


@dataclass
class _History:
    placement: tuple
    actions: list


class GameOutcome:
    """How a game ended, from ``done`` and ``winner`` (shared by every backend)."""

    done: bool
    winner: int

    @property
    def terminated(self) -> bool:
        """A goal was scored."""
        return self.done and self.winner != 0

    @property
    def truncated(self) -> bool:
        """The game ran out of time without a goal."""
        return self.done and self.winner == 0


class HockeyEngine(GameOutcome):
    """One hockey game on Box2D, seen from player 1 (left) and player 2 (right).

    Args:
        mode: NORMAL, TRAIN_SHOOTING or TRAIN_DEFENSE (a Mode, its value or its name).
        keep_mode: whether players catch and hold the puck (the original's default, True).
        seed: seed of the engine's generator, used for the random placements at reset.
    """

    def __init__(self, mode: Mode | int | str = Mode.NORMAL, keep_mode: bool = True, seed: int | None = None):
        self.mode = Mode.parse(mode)
        self.keep_mode = bool(keep_mode)
        self.seed(seed)
        self.obs_dim = 18 if self.keep_mode else 16
        self.action_dim = 4 if self.keep_mode else 3
        self.world: b2World | None = None
        self.time = 0
        self.done = False
        self.winner = 0
        self.timers = [0, 0]
        self._history: _History | None = None

    # ------------------------------------------------------------------ building
    @property
    def max_timesteps(self) -> int:
        return MAX_TIMESTEPS[self.mode]

    def seed(self, seed: int | None) -> None:
        """Reseed the generator used for the random placements at reset, and restart the
        alternation of the starting side, so a seeded reset always gives the same game."""
        self.np_random = np.random.default_rng(seed)
        self.one_starts = False

    def reset(self, one_starting: bool | None = None, mode: Mode | int | str | None = None) -> None:
        """Start a new game: draw the placement from the engine's generator and build the world."""
        if mode is not None:
            self.mode = Mode.parse(mode)
        if one_starting is None:
            self.one_starts = not self.one_starts
        else:
            self.one_starts = bool(one_starting)
        self._build(self._draw_placement())

    def _draw_placement(self) -> tuple:
        """Random draws in the original's order (spec section 5.8), one uniform() call each."""
        u = self.np_random.uniform
        p2 = (W / 5 * 4, H / 2)
        kick_target = None
        if self.mode == Mode.NORMAL:
            if self.one_starts:
                puck = (W / 2 - u(1, 2), H / 2 + u(-1, 1))
            else:
                puck = (W / 2 + u(1, 2), H / 2 + u(-1, 1))
        else:
            p2 = (W / 5 * 4 + u(-W / 3, W / 6), H / 2 + u(-H / 4, H / 4))
            if self.mode == Mode.TRAIN_SHOOTING:
                puck = (W / 2 - u(1, 2), H / 2 + u(-1, 1))
            else:
                puck = (W / 2 + u(0, W / 3), H / 2 + 0.8 * u(-H / 2, H / 2))
                kick_target = (0.0, H / 2 + 0.6 * u(-GOAL_SIZE / SCALE, GOAL_SIZE / SCALE))
        return (self.mode, self.one_starts, p2, puck, kick_target)

    def _build(self, placement: tuple) -> None:
        mode, one_starts, p2_pos, puck_pos, kick_target = placement
        self.mode, self.one_starts = mode, one_starts
        self.time, self.done, self.winner = 0, False, 0
        self.timers = [0, 0]  # deliberate difference: the original keeps them across resets
        self._touching_at_restore: frozenset = frozenset()
        self.world = world = b2World(gravity=(0, 0), doSleep=True)
        self._listener = _Listener(self)
        world.contactListener = self._listener
        _add_decorations(world)
        _add_walls(world)
        self.goal_1 = _add_goal(world, W / 2 - 255 / SCALE, _GOAL1)
        self.goal_2 = _add_goal(world, W / 2 + 255 / SCALE, _GOAL2)
        self.player_1 = _add_player(world, (W / 5, H / 2), left=True)
        self.player_2 = _add_player(world, p2_pos, left=False)
        self.puck = _add_puck(world, puck_pos)
        # Each body's own mass: the two rackets' float32 masses differ in the last bit.
        self._masses = (self.player_1.mass, self.player_2.mass)
        self._puck_mass = self.puck.mass
        self._pending_kick = None
        if kick_target is not None:
            self._pending_kick = _kick_force(self.puck, kick_target)
            self.puck.ApplyForceToCenter(self._pending_kick, True)
        self._history = _History(placement, [])
        self._read_state()

    # ------------------------------------------------------------------ stepping
    def step(self, action_1, action_2) -> None:
        """Advance one step. Each action is (x-force, y-force, torque[, shoot]) in the player's own
        frame, already clipped to [-1, 1] and rounded to float32 (the caller validates)."""
        if self.done:
            raise RuntimeError("step() called on an ended game; call reset() first")
        a1 = list(map(float, action_1))
        a2 = list(map(float, action_2))
        # Checked here too (cheaply) so that nothing non-finite ever reaches Box2D.
        if len(a1) != self.action_dim or len(a2) != self.action_dim:
            raise ValueError(f"actions must have {self.action_dim} entries each, got {len(a1)} and {len(a2)}")
        if not all(map(math.isfinite, a1 + a2)):
            raise ValueError(f"actions must be finite, got player 1 {a1} and player 2 {a2}")
        self._history.actions.append((a1, a2))
        self._advance(a1, a2)

    def _advance(self, a1: list, a2: list) -> None:
        s1, s2 = self._s1, self._s2
        m1, m2 = self._masses
        self._translate(self.player_1, s1, m1, a1[0] * FORCE_MULTIPLIER, a1[1] * FORCE_MULTIPLIER, True)
        self._rotate(self.player_1, s1, m1, a1[2] * TORQUE_MULTIPLIER)
        self._translate(self.player_2, s2, m2, -a2[0] * FORCE_MULTIPLIER, -a2[1] * FORCE_MULTIPLIER, False)
        self._rotate(self.player_2, s2, m2, a2[2] * TORQUE_MULTIPLIER)

        puck = self.puck
        sp = self._sp
        if math.hypot(sp[3], sp[4]) > MAX_PUCK_SPEED:
            puck.linearDamping = 10.0
        else:
            puck.linearDamping = 0.05

        if self.keep_mode:
            if self.timers[0] > 1:
                self._hold(0, self.player_1, a1[3] > 0.5)
            if self.timers[1] > 1:
                self._hold(1, self.player_2, a2[3] > 0.5)

        self.world.Step(DT, VELOCITY_ITERATIONS, POSITION_ITERATIONS)
        self._pending_kick = None
        self._touching_at_restore = frozenset()
        self._read_state()
        if self.time >= self.max_timesteps:
            self.done = True
        self.time += 1

    def _hold(self, i: int, player, shoot: bool) -> None:
        """A held puck sits at the player's origin and moves with it until the shot."""
        puck, timers = self.puck, self.timers
        puck.position = player.position
        puck.linearVelocity = player.linearVelocity
        timers[i] -= 1
        if timers[i] == 1 or shoot:
            puck.ApplyForceToCenter(_shot_force(player.angle, self._puck_mass, i == 1), True)
            timers[i] = 0

    def _translate(self, body, s: list, m: float, fx: float, fy: float, left: bool) -> None:
        x, y, _, vx, vy, _ = s
        if (x > CENTER_X - ZONE) if left else (x < CENTER_X + ZONE):
            # Centre-line bounce: the x-force is replaced so a player running at the line is reflected.
            # The original keeps the force in a float32 array: each term is rounded to float32
            # and the sum is taken in float32 (bit-exact against the recordings only this way).
            fx = _F32(0.0)
            if left:
                if vx > 0:
                    fx = _F32(-2 * vx * m / DT)
                fx = float(fx + _F32(-1 * (x - CENTER_X) * vx * m / DT))
            else:
                if vx < 0:
                    fx = _F32(-2 * vx * m / DT)
                fx = float(fx + _F32((x - CENTER_X) * vx * m / DT))
            body.linearDamping = 20.0
            self._apply_within_bounds(body, s, fx, fy, left)
            return
        speed = math.sqrt(vx * vx + vy * vy)
        if speed < PLAYER_MAX_SPEED:
            body.linearDamping = 5.0
            self._apply_within_bounds(body, s, fx, fy, left)
        else:
            body.linearDamping = 20.0
            nvx = vx + DT * fx / m
            nvy = vy + DT * fy / m
            if math.sqrt(nvx * nvx + nvy * nvy) < speed:
                self._apply_within_bounds(body, s, fx, fy, left)

    @staticmethod
    def _apply_within_bounds(body, s: list, fx: float, fy: float, left: bool) -> None:
        """Pushing into the rink limits stops the player on that axis (velocity and force zeroed)."""
        x, y, _, vx, vy, _ = s
        changed = False
        if left:
            out_x = (x < W / 2 - 7 * ZONE and fx < 0) or (x > W / 2 and fx > 0)
        else:
            out_x = (x > W / 2 + 7 * ZONE and fx > 0) or (x < W / 2 and fx < 0)
        if out_x:
            vx, fx, changed = 0.0, 0.0, True
        if (y > H - 1.2 and fy > 0) or (y < 1.2 and fy < 0):
            vy, fy, changed = 0.0, 0.0, True
        if changed:
            body.linearVelocity = (vx, vy)
            s[3], s[4] = vx, vy
        body.ApplyForceToCenter((fx, fy), True)

    def _rotate(self, body, s: list, m: float, torque: float) -> None:
        angle, omega = s[2], s[5]
        if abs(angle) <= MAX_ANGLE:
            body.angularDamping = 2.0
        else:
            # Past the limit the torque is replaced by a spring back towards it (uses mass, not inertia).
            torque = 0.0
            if angle * omega > 0:
                torque += -0.1 * omega * m / DT
            torque += -0.1 * angle * m / DT
            body.angularDamping = 10.0
        body.ApplyTorque(torque, True)

    def _begin_catch(self, left: bool) -> None:
        i = 0 if left else 1
        vx = self.puck.linearVelocity.x  # pre-solve velocity: BeginContact fires before the solver
        if self.timers[i] == 0 and ((vx < 0.1) if left else (vx > -0.1)):
            if (_P1 if left else _P2, _PUCK) in self._touching_at_restore:
                return
            self.timers[i] = MAX_TIME_KEEP_PUCK

    def _read_state(self) -> None:
        self._s1 = _body_state(self.player_1)
        self._s2 = _body_state(self.player_2)
        self._sp = _body_state(self.puck)

    # ------------------------------------------------------------------ outputs
    def observation(self, player: int = 0) -> np.ndarray:
        """The 18-entry observation (16 without keep_mode) as float32, from player 0's (left) or
        player 1's (right, the scene rotated 180 degrees about the centre) point of view."""
        return np.array(self.views()[player], dtype=np.float32)

    def views(self) -> tuple[list, list]:
        """Both players' observations as lists of Python floats (left view, right view).

        The right view is the scene rotated 180 degrees about the centre: positions and
        velocities negated, angles and angular velocities kept (the racket is symmetric in y).
        """
        (x1, y1, a1, vx1, vy1, w1), (x2, y2, a2, vx2, vy2, w2) = self._s1, self._s2
        xp, yp, _, vxp, vyp, _ = self._sp
        t1, t2 = self.timers
        left = [x1 - CENTER_X, y1 - CENTER_Y, a1, vx1, vy1, w1,
                x2 - CENTER_X, y2 - CENTER_Y, a2, vx2, vy2, w2,
                xp - CENTER_X, yp - CENTER_Y, vxp, vyp, t1, t2]  # fmt: skip
        right = [CENTER_X - x2, CENTER_Y - y2, a2, -vx2, -vy2, w2,
                 CENTER_X - x1, CENTER_Y - y1, a1, -vx1, -vy1, w1,
                 CENTER_X - xp, CENTER_Y - yp, -vxp, -vyp, t2, t1]  # fmt: skip
        if not self.keep_mode:
            del left[16:], right[16:]
        return left, right

    def info(self, player: int = 0) -> dict:
        """The original's info dict for one player (computed after the physics step)."""
        t_max = self.max_timesteps
        xp, yp, _, vxp, vyp, _ = self._sp
        if player == 0:
            x, y = self._s1[0], self._s1[1]
            near = xp < CENTER_X and vxp <= 0
            direction = vxp * (1.0 / (t_max * MAX_PUCK_SPEED))
            winner = self.winner
        else:
            x, y = self._s2[0], self._s2[1]
            near = xp > CENTER_X and vxp >= 0
            direction = -vxp * (1.0 / (t_max * MAX_PUCK_SPEED))
            winner = -self.winner
        closeness = 0.0
        if near:
            max_dist = 250.0 / SCALE
            # The original subtracts the two Box2D vectors (float32), then takes the length in float64.
            dx = float(_F32(x) - _F32(xp))
            dy = float(_F32(y) - _F32(yp))
            closeness = math.sqrt(dx * dx + dy * dy) * (-30.0 / (max_dist * t_max / 2))
        touch = 1.0 if self.timers[player] == MAX_TIME_KEEP_PUCK else 0.0
        return {
            "winner": int(winner),
            "reward_closeness_to_puck": float(closeness),
            "reward_touch_puck": touch,
            "reward_puck_direction": float(direction),
        }

    def goal_reward(self, player: int = 0, info: dict | None = None) -> float:
        """The goal part of the original's reward: +-10 on a decided game's last step, else 0."""
        if not self.done:
            return 0.0
        if info is None:
            info = self.info(player)
        return 10.0 * info["winner"]

    def reward(self, player: int = 0, info: dict | None = None) -> float:
        """The original's returned reward: +-10 on a decided game's last step, plus closeness."""
        if info is None:
            info = self.info(player)
        return self.goal_reward(player, info) + info["reward_closeness_to_puck"]

    # ------------------------------------------------------------------ state
    def get_state(self) -> EngineState:
        """Capture the full game state (see EngineState)."""
        touching = set()
        contact = self.world.contacts
        for c in contact:
            tags = (c.fixtureA.body.userData, c.fixtureB.body.userData)
            if c.touching and None not in tags:  # untagged bodies (walls) never start catches or goals
                touching.add(tuple(sorted(tags)))
        bodies = np.array([self._s1, self._s2, self._sp], dtype=np.float64)
        return EngineState(
            mode=self.mode,
            keep_mode=self.keep_mode,
            bodies=bodies,
            awake=(self.player_1.awake, self.player_2.awake, self.puck.awake),
            timers=(self.timers[0], self.timers[1]),
            time=self.time,
            done=self.done,
            winner=self.winner,
            one_starts=self.one_starts,
            rng_state=self.np_random.bit_generator.state,
            pending_kick=self._pending_kick,
            touching=frozenset(touching),
            history=_History(self._history.placement, list(self._history.actions)),
        )

    def set_state(self, state: EngineState, exact: bool = True) -> None:
        """Restore a captured state.

        exact=True rebuilds the world and replays the game's actions since its reset: the
        continuation is bit-identical to the original game (cost grows with the game's length,
        ~15 us per replayed step). exact=False writes the bodies, timers and counters directly
        (constant cost); Box2D keeps no way to restore its contact warm-start impulses, so after
        a contact the continuation can differ in the last float bits and then drift. Contacts that
        were touching at capture do not count as new catches or goals.
        """
        if state.keep_mode != self.keep_mode:
            raise ValueError(f"state has keep_mode={state.keep_mode}, this engine has keep_mode={self.keep_mode}")
        if exact:
            self._build(state.history.placement)
            for a1, a2 in state.history.actions:
                self._history.actions.append((a1, a2))
                self._advance(a1, a2)
            if self.time != state.time or self.timers != list(state.timers):
                raise RuntimeError("replaying the state's history did not reach the captured state")
        else:
            self._build(state.history.placement)
            self._history.actions.extend(state.history.actions)
            bodies = (self.player_1, self.player_2, self.puck)
            if self._pending_kick is not None:
                self.world.ClearForces()
            for body, row, awake in zip(bodies, state.bodies, state.awake):
                x, y, angle, vx, vy, omega = (float(v) for v in row)
                body.transform = ((x, y), angle)
                body.linearVelocity = (vx, vy)
                body.angularVelocity = omega
                body.awake = bool(awake)
            if state.pending_kick is not None:
                self.puck.ApplyForceToCenter(state.pending_kick, True)
            self._pending_kick = state.pending_kick
            self.time, self.done, self.winner = state.time, state.done, state.winner
            self.timers = list(state.timers)
            self._touching_at_restore = state.touching
            self._read_state()
        self.one_starts = state.one_starts
        self.np_random.bit_generator.state = state.rng_state


def _kick_force(puck, target) -> tuple[float, float]:
    """The TRAIN_DEFENSE kick as the original computes it with Box2D vectors: direction =
    target - puck position, divided by its float32 length, then * 60 * mass / dt, every
    operation in float32 and left to right (the only order that matches the recordings)."""
    px, py = (_F32(v) for v in puck.position)
    dx = _F32(target[0]) - px
    dy = _F32(target[1]) - py
    length = np.sqrt(dx * dx + dy * dy)
    m, dt, k = _F32(puck.mass), _F32(DT), _F32(SHOOT_FORCE_MULTIPLIER)
    return float(dx / length * k * m / dt), float(dy / length * k * m / dt)


def _shot_force(angle: float, puck_mass: float, backwards: bool) -> tuple[float, float]:
    """The shot as the original builds it, b2Vec2(cos, sin) * mass / dt * 60, rounded to float32
    after every operation; player 2 shoots along -(cos, sin)."""
    m, dt, k = _F32(puck_mass), _F32(DT), _F32(SHOOT_FORCE_MULTIPLIER)
    fx = _F32(math.cos(angle)) * m / dt * k
    fy = _F32(math.sin(angle)) * m / dt * k
    if backwards:
        fx, fy = -fx, -fy
    return float(fx), float(fy)


def _body_state(body) -> list:
    p = body.position
    v = body.linearVelocity
    return [p.x, p.y, body.angle, v.x, v.y, body.angularVelocity]


# ---------------------------------------------------------------------- rink construction
# Bodies are created in the original's order: Box2D's contact order, and so the last bits of
# the solution, depend on it (spec: "Creation order of bodies").


def _add_decorations(world: b2World) -> None:
    none = {"categoryBits": 0, "maskBits": 0}
    world.CreateStaticBody(
        position=(W / 2, H / 2), fixtures=b2FixtureDef(shape=b2CircleShape(radius=100 / SCALE), **none)
    )
    for side in (-1, 1):
        world.CreateStaticBody(
            position=(W / 2 + side * 250 / SCALE, H / 2),
            fixtures=b2FixtureDef(shape=b2CircleShape(radius=GOAL_SIZE / SCALE), **none),
        )
        left_edge = W / 2 - 240 / SCALE if side < 0 else W / 2 + 140 / SCALE
        rect = [(0, -100), (100, -100), (100, 100), (0, 100)]
        world.CreateStaticBody(
            position=(left_edge, H / 2),
            fixtures=b2FixtureDef(shape=b2PolygonShape(vertices=[(px / SCALE, py / SCALE) for px, py in rect]), **none),
        )


def _wall_fixture(shape) -> b2FixtureDef:
    return b2FixtureDef(shape=shape, density=0, friction=0.1, categoryBits=0x011, maskBits=0x011)


def _add_walls(world: b2World) -> None:
    for y in (H - 0.5, 0.5):
        world.CreateStaticBody(
            position=(W / 2, y), fixtures=_wall_fixture(b2PolygonShape(box=(250 / SCALE, 10 / SCALE)))
        )
    quad = [(-10, 135), (10, 128), (10, -5), (-10, -5)]
    for x_side in (-1, 1):
        for y in (H - 0.5, 0.5):
            sx = 1 if x_side < 0 else -1
            sy = -1 if y > H / 2 else 1
            vertices = [(sx * px / SCALE, sy * py / SCALE) for px, py in quad]
            world.CreateStaticBody(
                position=(W / 2 + x_side * 245 / SCALE, y), fixtures=_wall_fixture(b2PolygonShape(vertices=vertices))
            )


def _add_goal(world: b2World, x: float, tag: str):
    box = b2PolygonShape(box=(10 / SCALE, GOAL_SIZE / SCALE))
    sensor = b2FixtureDef(shape=box, density=0, friction=0.1, isSensor=True, categoryBits=0x010, maskBits=0x001)
    solid = b2FixtureDef(shape=box, density=0, friction=0.1, categoryBits=0x010, maskBits=0x010)
    body = world.CreateStaticBody(position=(x, H / 2), fixtures=[sensor, solid], userData=tag)
    return body


def _add_player(world: b2World, position, left: bool):
    sign = 1 if left else -1
    vertices = [(sign * px * RACKET_FACTOR / SCALE, py * RACKET_FACTOR / SCALE) for px, py in RACKET_POLY_PX]
    return world.CreateDynamicBody(
        position=position,
        angle=0.0,
        fixtures=b2FixtureDef(
            shape=b2PolygonShape(vertices=vertices),
            density=RACKET_DENSITY,
            friction=1.0,
            restitution=0.0,
            categoryBits=0x010,
            maskBits=0x011,
        ),
        userData=_P1 if left else _P2,
    )


def _add_puck(world: b2World, position):
    return world.CreateDynamicBody(
        position=position,
        angle=0.0,
        fixtures=b2FixtureDef(
            shape=b2CircleShape(radius=PUCK_RADIUS, pos=(0, 0)),
            density=PUCK_DENSITY,
            friction=0.1,
            restitution=0.95,
            categoryBits=0x001,
            maskBits=0x010,
        ),
        userData=_PUCK,
    )
