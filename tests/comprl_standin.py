"""A stand-in for the course's competition server (comprl), for tests only: nothing in the package uses it.

Written from the protocol's facts (AMP boxes over TCP, the seven server-initiated commands,
4-round games without a round signal, ``Ready`` before ``EndGame``, the answer deadline, mirrored
observations). Its framing is written out here rather than taken from Twisted's AMP, so a test
checks the client's bytes against the protocol, not Twisted against itself. The game is the
arena's engine; a lone client can be paired with the scripted BasicOpponent, which it sees with
exactly the same traffic as a remote player.

Faults to inject: a server restart (every connection closed, the port closed for a while), a
bot that leaves mid-game, a ``Step`` sent after ``EndGame``, another protocol version.
Everything sent and received is recorded (``boxes``), with kicks, protocol errors and games.
"""

from __future__ import annotations

import math
import struct
import uuid

import numpy as np
from twisted.internet import protocol, task

from arena.hockey.basic_opponent import BasicOpponent
from arena.hockey.engine import HockeyEngine


def encode_box(box: dict[bytes, bytes]) -> bytes:
    out = []
    for key in sorted(box):
        out += [struct.pack(">H", len(key)), key, struct.pack(">H", len(box[key])), box[key]]
    return b"".join(out) + b"\0\0"


def float_list(values) -> bytes:
    texts = [repr(float(v)).encode() for v in values]
    return b"".join(struct.pack(">H", len(t)) + t for t in texts)


def parse_float_list(raw: bytes) -> list[float]:
    values, at = [], 0
    while at < len(raw):
        (size,) = struct.unpack(">H", raw[at : at + 2])
        values.append(float(raw[at + 2 : at + 2 + size]))
        at += 2 + size
    return values


class Bot:
    """The in-process scripted opponent."""

    name = "bot"

    def __init__(self, seed: int, leave_at_step: int | None = None):
        self.policy = BasicOpponent(weak=True, seed=seed)
        self.leave_at_step = leave_at_step


class Connection(protocol.Protocol):
    """One client's connection, as the server sees it."""

    def __init__(self, server: StandInServer):
        self.server = server
        self.buffer = b""
        self.counter = 0
        self.pending: dict[bytes, tuple] = {}
        self.user: str | None = None
        self.game: Game | None = None
        self.closed = False
        self.number = len(server.connections)
        server.connections.append(self)

    @property
    def name(self) -> str:
        return f"{self.user or '?'}#{self.number}"

    # ---------------------------------------------------------------- framing
    def dataReceived(self, data):  # noqa: N802
        self.buffer += data
        while True:
            box, at = {}, 0
            while True:
                if len(self.buffer) < at + 2:
                    return
                (size,) = struct.unpack(">H", self.buffer[at : at + 2])
                if size == 0:
                    at += 2
                    break
                if len(self.buffer) < at + 2 + size + 2:
                    return
                key = self.buffer[at + 2 : at + 2 + size]
                at += 2 + size
                (vsize,) = struct.unpack(">H", self.buffer[at : at + 2])
                if len(self.buffer) < at + 2 + vsize:
                    return
                box[key] = self.buffer[at + 2 : at + 2 + vsize]
                at += 2 + vsize
            self.buffer = self.buffer[at:]
            self.box_received(box)

    def send(self, box: dict[bytes, bytes]) -> None:
        if not self.closed:
            self.server.boxes.append((self.name, "sent", box))
            self.transport.write(encode_box(box))

    def box_received(self, box: dict[bytes, bytes]) -> None:
        self.server.boxes.append((self.name, "received", box))
        if b"_command" in box:  # the server has no responders
            self.send(
                {
                    b"_error": box.get(b"_ask", b""),
                    b"_error_code": b"UNHANDLED",
                    b"_error_description": b"Unhandled Command",
                }
            )
            return
        tag = box.get(b"_answer", box.get(b"_error"))
        entry = self.pending.pop(tag, None)
        if entry is None:
            self.server.protocol_errors.append((self.name, f"answer to an unknown tag {tag!r}"))
            return
        command, on_answer, timer = entry
        if timer is not None and timer.active():
            timer.cancel()
        if b"_error" in box:  # only logged: the request counts as answered
            self.server.protocol_errors.append((self.name, f"error answer to {command}: {box}"))
            return
        if on_answer is not None:
            try:
                on_answer(box)
            except (KeyError, ValueError) as error:
                self.server.protocol_errors.append((self.name, f"bad answer to {command}: {error!r} in {box}"))

    def ask(self, command: str, arguments: dict | None = None, on_answer=None, deadline: bool = True) -> None:
        self.counter += 1
        tag = f"{self.counter:x}".encode()
        timer = self.server.clock.callLater(self.server.timeout, self.timed_out, tag) if deadline else None
        self.pending[tag] = (command, on_answer, timer)
        self.send({b"_command": command.encode(), b"_ask": tag, **(arguments or {})})

    def timed_out(self, tag: bytes) -> None:
        command = self.pending.get(tag, ("?",))[0]
        self.server.kicks.append((self.name, f"timeout on {command}"))
        self.fail(f"Timeout after {self.server.timeout:g}s")

    def fail(self, text: str) -> None:
        """Error, then close at once."""
        self.ask("Error", {b"msg": text.encode()}, deadline=False)
        self.transport.loseConnection()

    # ---------------------------------------------------------------- session
    def connectionMade(self):  # noqa: N802
        self.ask("Auth", on_answer=self.on_auth)

    def on_auth(self, box) -> None:
        token, version = box[b"token"].decode(), int(box[b"version"])
        if version != self.server.version:
            self.fail("Tried to connect with wrong version")
        elif token not in self.server.tokens:
            self.fail("Authentication failed")
        else:
            self.user = self.server.tokens[token]
            self.ask("Ready", on_answer=self.on_ready)
            self.ask("Message", {b"msg": b"Authentication successful"}, deadline=False)

    def on_ready(self, box) -> None:
        value = box[b"ready"]
        if value not in (b"True", b"False"):
            raise ValueError(f"Boolean must be True or False, got {value!r}")
        self.server.ready_answers.append((self.name, value == b"True"))
        if value == b"True":
            self.ask("Message", {b"msg": b"Waiting in queue"}, deadline=False)
            self.server.queue.append(self)

    def connectionLost(self, reason):  # noqa: N802
        self.closed = True
        for _, _, timer in self.pending.values():
            if timer is not None and timer.active():
                timer.cancel()
        if self in self.server.queue:
            self.server.queue.remove(self)
        if self.game is not None:
            self.game.player_left(self)


class Game:
    """One 4-round game between two seats (connections or the bot); seat 0 is player 1 (left)."""

    def __init__(self, server: StandInServer, seats: list):
        self.server, self.seats = server, seats
        self.id = uuid.UUID(bytes=server.rng.bytes(16), version=4)
        self.engine = HockeyEngine(seed=int(server.rng.integers(2**31)))
        self.round, self.round_steps, self.steps = 0, 0, 0
        self.wins = [0, 0]
        self.round_lengths: list[int] = []
        self.answers: list = [None, None]
        self.over = False
        self.record = {"id": str(self.id), "players": [self.seat_name(s) for s in seats], "steps_after_end": []}
        server.games.append(self.record)

    @staticmethod
    def seat_name(seat) -> str:
        return seat.user if isinstance(seat, Connection) else seat.name

    def start(self) -> None:
        for seat in self.seats:
            if isinstance(seat, Connection):
                seat.game = self
                seat.ask("StartGame", {b"game_id": self.id.bytes}, deadline=False)
        self.engine.reset(one_starting=False)  # round 1: the puck in player 2's half
        self.send_steps()

    def send_steps(self) -> None:
        views = self.engine.views()
        for index, seat in enumerate(self.seats):
            if isinstance(seat, Connection):
                seat.ask(
                    "Step",
                    {b"obv": float_list(views[index])},
                    on_answer=lambda box, i=index, s=seat: self.on_action(i, s, box),
                )
            elif seat.leave_at_step is not None and self.steps >= seat.leave_at_step:
                self.server.clock.callLater(0, self.player_left, seat)
            else:
                action = seat.policy.act(np.asarray([views[index]], dtype=np.float32))[0]
                self.server.clock.callLater(0, self.on_answer, index, [float(a) for a in action])

    def on_action(self, index: int, seat: Connection, box) -> None:
        action = parse_float_list(box[b"action"])
        if self.over:
            self.record["steps_after_end"].append((seat.user, action))
            return
        if len(action) != 4 or not all(math.isfinite(a) and -1 <= a <= 1 for a in action):
            self.server.kicks.append((seat.name, f"invalid action {action}"))
            seat.fail("Invalid action")
            return
        self.on_answer(index, action)

    def on_answer(self, index: int, action: list[float]) -> None:
        if self.over:
            return
        self.answers[index] = action
        if any(a is None for a in self.answers):
            return
        self.engine.step(np.clip(self.answers[0], -1, 1), np.clip(self.answers[1], -1, 1))
        self.answers = [None, None]
        self.round_steps += 1
        self.steps += 1
        if self.server.drop_at_step is not None and self.steps >= self.server.drop_at_step:
            self.server.drop_at_step = None
            self.server.restart()
            return
        if self.engine.done or self.round_steps >= self.server.round_steps:
            if self.engine.done and self.engine.winner != 0:
                self.wins[0 if self.engine.winner == 1 else 1] += 1
            self.round_lengths.append(self.round_steps)
            self.round += 1
            if self.round == self.server.rounds:
                return self.end(None)
            self.engine.reset(one_starting=self.round % 2 == 1)  # rounds 2 and 4: player 1's half
            self.round_steps = 0
        self.send_steps()

    def player_left(self, seat) -> None:
        if not self.over:
            self.end(seat)

    def end(self, leaver) -> None:
        self.over = True
        self.record.update(
            rounds=list(self.wins),
            round_lengths=list(self.round_lengths),
            disconnecter=None if leaver is None else self.seat_name(leaver),
        )
        self.record["end"] = "DISCONNECTED" if leaver is not None else "DRAW" if self.wins[0] == self.wins[1] else "WIN"
        for index, seat in enumerate(self.seats):
            if not isinstance(seat, Connection) or seat is leaver or seat.closed:
                continue
            seat.game = None
            own, other = self.wins[index], self.wins[1 - index]
            won = leaver is None and own > other
            seat.ask("Ready", on_answer=seat.on_ready)
            seat.ask("EndGame", {b"result": b"True" if won else b"False", b"stats": float_list([own, other])})
            if self.server.step_after_end:
                views = self.engine.views()
                seat.ask(
                    "Step",
                    {b"obv": float_list(views[index])},
                    on_answer=lambda box, i=index, s=seat: self.on_action(i, s, box),
                )


class StandInServer(protocol.Factory):
    """The stand-in server. Call ``listen(reactor)`` in the reactor's thread.

    Args:
        tokens: access token -> user name.
        timeout: the answer deadline in seconds.
        rounds, round_steps: the game format (real: 4 rounds of at most 251 steps).
        match_interval: seconds between matchmaking rounds.
        bot: pair a client that waits alone with the scripted opponent.
        bot_leaves_at_step: the bot leaves its first game at this step.
        drop_at_step: at this step of the first game, the server restarts (see ``restart``).
        restart_pause: seconds the port stays closed in a restart.
        step_after_end: send one more ``Step`` after each ``EndGame``.
        version: the protocol version it accepts.
        seed: seeds who is player 1, game ids and placements.
    """

    def __init__(
        self,
        tokens: dict[str, str],
        timeout: float = 10.0,
        rounds: int = 4,
        round_steps: int = 251,
        match_interval: float = 0.05,
        bot: bool = False,
        bot_leaves_at_step: int | None = None,
        drop_at_step: int | None = None,
        restart_pause: float = 0.3,
        step_after_end: bool = False,
        version: int = 1,
        seed: int = 0,
    ):
        self.tokens, self.timeout, self.rounds, self.round_steps = tokens, timeout, rounds, round_steps
        self.match_interval, self.bot, self.bot_leaves_at_step = match_interval, bot, bot_leaves_at_step
        self.drop_at_step, self.restart_pause = drop_at_step, restart_pause
        self.step_after_end, self.version = step_after_end, version
        self.rng = np.random.default_rng(seed)
        self.connections: list[Connection] = []
        self.queue: list[Connection] = []
        self.boxes: list[tuple[str, str, dict]] = []
        self.kicks: list[tuple[str, str]] = []
        self.protocol_errors: list[tuple[str, str]] = []
        self.ready_answers: list[tuple[str, bool]] = []
        self.games: list[dict] = []
        self.restarts = 0
        self.port = 0
        self.clock = None
        self._listening = None

    def buildProtocol(self, addr):  # noqa: N802
        return Connection(self)

    def listen(self, reactor, port: int = 0) -> int:
        """Start listening on loopback (port 0: any free one) and matchmaking; returns the port."""
        self.clock = reactor
        self._listening = reactor.listenTCP(port or self.port, self, interface="127.0.0.1")
        self.port = self._listening.getHost().port
        if not hasattr(self, "_matchmaker"):
            self._matchmaker = task.LoopingCall(self.match)
            self._matchmaker.clock = reactor
            self._matchmaker.start(self.match_interval, now=False)
        return self.port

    def stop(self):
        if self._matchmaker.running:
            self._matchmaker.stop()
        for connection in self.connections:
            if not connection.closed:
                connection.transport.abortConnection()
        return self._listening.stopListening()

    def restart(self) -> None:
        """Close every connection and the port; listen again on the same port after ``restart_pause``."""
        self.restarts += 1
        self._listening.stopListening()
        for connection in self.connections:
            if not connection.closed:
                connection.transport.abortConnection()
        self.clock.callLater(self.restart_pause, self.listen, self.clock, self.port)

    def match(self) -> None:
        waiting = [c for c in self.queue if not c.closed]
        while waiting:
            first = waiting.pop(0)
            partner = next((c for c in waiting if c.user != first.user), None)
            if partner is not None:
                waiting.remove(partner)
                seats = [first, partner]
            elif self.bot:
                leave, self.bot_leaves_at_step = self.bot_leaves_at_step, None
                seats = [first, Bot(int(self.rng.integers(2**31)), leave)]
            else:
                continue
            for seat in seats:
                if seat in self.queue:
                    self.queue.remove(seat)
            if self.rng.random() < 0.5:
                seats.reverse()
            Game(self, seats).start()
