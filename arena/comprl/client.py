"""A client that puts a policy on the competition server and keeps it there.

The server asks and the client answers (``arena.comprl.commands``); a late, malformed or failed
answer gets the connection closed and the game recorded as a disconnect. So:

- the policy runs on a worker thread of its own, one call at a time in arrival order (a game's
  resets and acts never overtake each other), and the network loop never waits for it;
- every ``Step`` is answered: if the policy has not answered by 80% of the deadline, the idle
  action goes out instead (and the call, once its turn comes, is skipped rather than queued up);
  a ``Step`` outside a game (after ``EndGame``, before ``StartGame``) gets the idle action at once;
- every handler catches its own errors (Twisted answers an exception with ``UNKNOWN`` and closes);
- actions are four Python floats clipped to [-1, 1] (``arena.comprl.game.wire_action``);
- the policy's ``reset`` runs at each game's start and each round's start, read from the
  observations (``arena.comprl.game``), as no message marks a round;
- results are reported on a second thread, so a slow disk never delays an answer;
- a lost connection is reopened with exponential backoff (a server restart); a refused token is
  tried ``auth_failures`` times, a refused protocol version once; a server that cannot be reached
  at the first attempt is reported at once, as that is a wrong address far more often than an outage.
"""

from __future__ import annotations

import functools
import random
import time
import uuid
from dataclasses import dataclass

import numpy as np
from twisted.internet import defer
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol
from twisted.internet.threads import deferToThreadPool
from twisted.protocols import amp
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from arena.comprl import commands
from arena.comprl.game import IDLE_ACTION, GameFormat, GameResult, GameTracker, Tally, wire_action
from arena.hockey.constants import ACTION_DIM, OBS_DIM
from arena.policy import PolicyError, policy_actions, reset_policy
from plumbing.signals import stop_signals

ANSWER_SHARE = 0.8  # answer with the idle action once this share of the deadline has passed
SPEED_SHARE = 0.5  # refuse a policy whose single act takes more than this share of the deadline
VERSION_ERROR = "Tried to connect with wrong version"
AUTHENTICATED = "Authentication successful"
ROUTINE_MESSAGES = (AUTHENTICATED, "Waiting in queue")


class CompetitionError(ValueError):
    """The client gave up: the server cannot be reached, or refuses the token or the protocol version."""


@dataclass(frozen=True)
class ClientConfig:
    """Where to play, with what token, for how long.

    Attributes:
        host: the server's host name or address.
        port: its TCP port (the course server's: 65335).
        token: the access token (shown on the server's web dashboard).
        games: stop after this many games (None: until stopped).
        minutes: stop after the game in progress once this many minutes have passed (None: until stopped).
        deadline: seconds the server waits for an answer (its ``timeout`` setting).
        game_format: rounds per game and the step cap, to tell finished games from abandoned ones.
        first_backoff: seconds before the first reconnect; each further attempt waits twice as long.
        longest_backoff: the longest wait between reconnects.
        auth_failures: refused tokens in a row before giving up.
        connect_timeout: seconds a connection attempt may take.
    """

    host: str
    port: int
    token: str
    games: int | None = None
    minutes: float | None = None
    deadline: float = 10.0
    game_format: GameFormat = GameFormat()
    first_backoff: float = 1.0
    longest_backoff: float = 60.0
    auth_failures: int = 3
    connect_timeout: float = 30.0

    def __post_init__(self):
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ValueError(f"server port must be an integer in 1..65535, got {self.port!r}")
        if not self.host:
            raise ValueError("the server's host is empty; give --server-url or COMPRL_SERVER_URL")
        if not self.token:
            raise ValueError("the access token is empty; give --token or COMPRL_ACCESS_TOKEN")
        if self.games is not None and self.games < 1:
            raise ValueError(f"games must be at least 1 (or None: until stopped), got {self.games}")
        if self.minutes is not None and self.minutes <= 0:
            raise ValueError(f"minutes must be positive (or None: until stopped), got {self.minutes}")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def round_start_observation() -> np.ndarray:
    """A (1, 18) observation laid out as a round starts (the puck in the opponent's half)."""
    obs = np.zeros((1, OBS_DIM), dtype=np.float32)
    obs[0, 0], obs[0, 6], obs[0, 12] = -3.0, 3.0, 1.5
    return obs


def check_policy_speed(policy, deadline: float = 10.0) -> float:
    """Time one ``act`` (after an untimed first call, which may set things up) and refuse a policy
    too slow for the server's deadline. Returns the seconds it took.

    Raises:
        ValueError: naming the time taken and the deadline, when it is over half the deadline.
    """
    obs = round_start_observation()
    reset_policy(policy, np.ones(1, dtype=bool))
    wire_action(policy_actions(policy, obs, ACTION_DIM))
    started = time.perf_counter()
    wire_action(policy_actions(policy, obs, ACTION_DIM))
    took = time.perf_counter() - started
    reset_policy(policy, np.ones(1, dtype=bool))
    if took > SPEED_SHARE * deadline:
        raise ValueError(
            f"the policy is too slow for the server: one act took {took:.2f} s, and the server disconnects a "
            f"player that takes over {deadline:g} s to answer a step; give it a faster device (--device cuda) or "
            "a cheaper setting (fewer planning samples or simulations)"
        )
    return took


class PolicyWorker:
    """Runs the policy's calls one at a time, in order, on a thread of its own, and answers each
    step in time whatever the policy does.

    Args:
        policy: ``act(obs (B, 18)) -> (B, 4)``, optionally ``reset(mask)``.
        reactor: the Twisted reactor.
        answer_within: seconds after which a step is answered with the idle action.
        log: where problems are reported.
    """

    def __init__(self, policy, reactor, answer_within: float, log):
        self.policy, self.reactor, self.answer_within, self.log = policy, reactor, answer_within, log
        self.pool = ThreadPool(minthreads=1, maxthreads=1, name="comprl-policy")
        self.error: str | None = None

    def start(self) -> None:
        self.pool.start()

    def stop(self) -> None:
        """Wait for a call in progress, then end the thread."""
        self.pool.stop()

    def reset(self) -> None:
        """Queue the policy's reset (a game or a round starts)."""
        deferToThreadPool(self.reactor, self.pool, reset_policy, self.policy, np.ones(1, dtype=bool)).addErrback(
            self._failed
        )

    def act(self, obs, on_late) -> defer.Deferred:
        """The answer to one ``Step``: fires with ``{"action": [4 floats]}`` within ``answer_within``
        seconds; ``on_late()`` is called when the idle action had to go out instead."""
        answer = defer.Deferred()
        sent = [False]
        batch = np.asarray([obs], dtype=np.float32)

        def compute():
            if sent[0]:  # answered idle already: the call would only delay the next step
                return None
            return wire_action(policy_actions(self.policy, batch, ACTION_DIM))

        def send(action) -> None:
            if not sent[0]:
                sent[0] = True
                if timer.active():
                    timer.cancel()
                answer.callback({"action": action})

        def late() -> None:
            if not sent[0]:
                on_late()
                send(list(IDLE_ACTION))

        def failed(failure: Failure) -> None:
            self._failed(failure)
            send(list(IDLE_ACTION))

        timer = self.reactor.callLater(self.answer_within, late)
        work = deferToThreadPool(self.reactor, self.pool, compute)
        work.addCallbacks(lambda action: None if action is None else send(action), failed)
        return answer

    def _failed(self, failure: Failure) -> None:
        if self.error is None:
            self.error = f"the policy failed: {failure.getErrorMessage()}"
            self.log(f"{self.error}; it plays idle until this game ends, then the client stops")


def _never_raises(default):
    """A responder that logs its own errors and answers ``default``: Twisted would close the connection."""

    def wrap(method):
        @functools.wraps(method)
        def guarded(self, **arguments):
            try:
                return method(self, **arguments)
            except Exception as error:  # any error would cost the connection and the game
                self.client.log(f"internal error answering {method.__name__}: {type(error).__name__}: {error}")
                return default() if callable(default) else default

        return guarded

    return wrap


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def game_id_text(raw: bytes) -> str:
    """The server's 16-byte game id as its UUID's text (other lengths: hexadecimal)."""
    return str(uuid.UUID(bytes=raw)) if len(raw) == 16 else raw.hex()


class ServerConnection(amp.AMP):
    """One connection to the server: answers its commands for the client."""

    def __init__(self, client: CompetitionClient):
        super().__init__()
        self.client = client
        self.authenticated = False
        self.queued = False
        self.game: GameTracker | None = None
        self.error_text: str | None = None

    @commands.Auth.responder
    @_never_raises(lambda: {"token": b"", "version": commands.PROTOCOL_VERSION})
    def auth(self):
        return {"token": self.client.config.token.encode(), "version": commands.PROTOCOL_VERSION}

    @commands.Ready.responder
    @_never_raises({"ready": False})
    def ready(self):
        if not self.authenticated:
            self.authenticated = True
            self.client.authenticated()
        self.queued = self.client.wants_games()
        return {"ready": self.queued}

    @commands.StartGame.responder
    @_never_raises({})
    def start_game(self, game_id):
        if self.game is not None:
            self.client.game_over(self.game.abandon("the server started another game before ending it"))
        self.game = self.client.new_game(game_id_text(game_id))
        self.client.worker.reset()
        return {}

    @commands.Step.responder
    @_never_raises(lambda: {"action": list(IDLE_ACTION)})
    def step(self, obv):
        game = self.game
        if game is None:  # a step left open when the game ended: answer, or the server kicks
            return {"action": list(IDLE_ACTION)}
        if game.observe(obv) and game.steps > 1:
            self.client.worker.reset()

        def late() -> None:
            game.late += 1

        return self.client.worker.act(obv, late)

    @commands.EndGame.responder
    @_never_raises({})
    def end_game(self, result, stats):
        game, self.game = self.game, None
        if game is not None:
            self.client.game_over(game.finish(stats))
        if not (self.queued and self.client.wants_games()):
            self.client.reactor.callLater(0, self.transport.loseConnection)  # after the answer is out
        return {}

    @commands.Error.responder
    @_never_raises({})
    def error(self, msg):
        self.error_text = _text(msg)
        self.client.log(f"server error: {self.error_text}")
        return {}

    @commands.Message.responder
    @_never_raises({})
    def message(self, msg):
        text = _text(msg)
        if text not in ROUTINE_MESSAGES:
            self.client.log(f"server: {text}")
        return {}

    def connectionLost(self, reason):  # noqa: N802 (Twisted's name)
        super().connectionLost(reason)
        self.client.connection_lost(self, reason)


class CompetitionClient:
    """Plays ``policy`` on the server until a budget is spent, it is stopped, or the server refuses it.

    Args:
        policy: ``act(obs (B, 18)) -> (B, 4)``, optionally ``reset(mask)``.
        config: where, how and how long.
        on_game_end: called with each ``GameResult`` (on a thread of its own, in order).
        log: takes one line of text.
        reactor: the Twisted reactor (the global one by default).
    """

    def __init__(self, policy, config: ClientConfig, on_game_end=None, log=print, reactor=None):
        if reactor is None:
            from twisted.internet import reactor
        self.reactor, self.config, self.on_game_end, self.log = reactor, config, on_game_end, log
        self.worker = PolicyWorker(policy, reactor, ANSWER_SHARE * config.deadline, log)
        self.records = ThreadPool(minthreads=1, maxthreads=1, name="comprl-records")
        self.tally = Tally()
        self.games_started = 0
        self.connection: ServerConnection | None = None
        self.ever_connected = False
        self.auth_failures = 0
        self.attempt = 0
        self.stopping: str | None = None
        self.failure: Exception | None = None
        self.done = defer.Deferred()
        self._finished = False
        self._reconnect = None
        self._budget = None
        self._rng = random.Random()

    # ------------------------------------------------------------------ life cycle
    def start(self) -> defer.Deferred:
        """Connect and play; the Deferred fires with the ``Tally`` when the client stops, or fails
        with ``CompetitionError`` (or the policy's or the recorder's error)."""
        self.worker.start()
        self.records.start()
        if self.config.minutes is not None:
            minutes = f"{self.config.minutes:g} minutes"
            self._budget = self.reactor.callLater(60 * self.config.minutes, self.stop, f"{minutes} have passed")
        self._connect()
        return self.done

    def wants_games(self) -> bool:
        """Whether to queue for another game."""
        games = self.config.games
        return self.stopping is None and (games is None or self.games_started < games)

    def stop(self, why: str, now: bool = False) -> None:
        """Stop after the game in progress (at once when ``now`` or when no game is in progress)."""
        if self._finished:
            return
        first = self.stopping is None
        self.stopping = self.stopping or why
        connection = self.connection
        if connection is None:
            if self._reconnect is not None and self._reconnect.active():
                self._reconnect.cancel()
                self._finish()
            return  # a connection attempt in progress is closed when it succeeds
        if now or connection.game is None:
            connection.transport.loseConnection()
        elif first:
            self.log(f"{why}: stopping after this game (once more to stop at once)")

    # ------------------------------------------------------------------ connections
    def _connect(self) -> None:
        self._reconnect = None
        endpoint = HostnameEndpoint(
            self.reactor, self.config.host, self.config.port, timeout=self.config.connect_timeout
        )
        connectProtocol(endpoint, ServerConnection(self)).addCallbacks(self._connected, self._connect_failed)

    def _connected(self, connection: ServerConnection) -> None:
        self.connection = connection
        self.ever_connected = True
        if self.stopping is not None:
            connection.transport.loseConnection()

    def _connect_failed(self, failure: Failure) -> None:
        reason = failure.getErrorMessage().rstrip(". ")
        if not self.ever_connected:
            self._finish(
                CompetitionError(
                    f"cannot reach the competition server at {self.config.address}: {reason}; check --server-url and "
                    "--server-port (or COMPRL_SERVER_URL and COMPRL_SERVER_PORT)"
                )
            )
        elif self.stopping is not None:
            self._finish()
        else:
            self._retry(f"cannot reconnect to {self.config.address}: {reason}")

    def _retry(self, why: str) -> None:
        delay = min(self.config.longest_backoff, self.config.first_backoff * 2**self.attempt)
        delay *= self._rng.uniform(0.8, 1.2)  # clients dropped together do not all come back at once
        self.attempt += 1
        self.log(f"{why}; reconnecting in {delay:.1f} s")
        self._reconnect = self.reactor.callLater(delay, self._connect)

    def authenticated(self) -> None:
        self.auth_failures = 0
        self.attempt = 0
        self.log(f"connected to {self.config.address}, authenticated; waiting for games")

    def connection_lost(self, connection: ServerConnection, reason: Failure) -> None:
        if connection is self.connection:
            self.connection = None
        if connection.game is not None:
            game, connection.game = connection.game, None
            self.game_over(game.abandon())
        said = connection.error_text
        if said is not None and "version" in said.lower():
            return self._finish(
                CompetitionError(
                    f"the server at {self.config.address} refused protocol version {commands.PROTOCOL_VERSION} "
                    f"({said!r}); this client speaks comprl's protocol version {commands.PROTOCOL_VERSION}"
                )
            )
        if not connection.authenticated and said is not None:
            self.auth_failures += 1
            if self.auth_failures >= self.config.auth_failures:
                return self._finish(
                    CompetitionError(
                        f"the server at {self.config.address} refused the access token {self.auth_failures} times in a "
                        f"row ({said!r}); check --token or COMPRL_ACCESS_TOKEN (the token is on the server's web "
                        "dashboard)"
                    )
                )
            if self.stopping is None:
                return self._retry(f"the server refused the access token ({said!r})")
        if self.stopping is not None or not self.wants_games():
            return self._finish()
        self._retry(f"connection to {self.config.address} lost ({said or reason.getErrorMessage()})")

    # ------------------------------------------------------------------ games
    def new_game(self, game_id: str) -> GameTracker:
        self.games_started += 1
        return GameTracker(game_id, self.games_started, self.config.game_format)

    def game_over(self, result: GameResult) -> None:
        """Count the game and report it on the records thread."""
        self.tally.add(result)
        line = result.line(self.tally)
        deferToThreadPool(self.reactor, self.records, self._report, result, line).addErrback(self._report_failed)
        if self.worker.error is not None and self.failure is None:
            self.failure = PolicyError(self.worker.error)
            self.stop("the policy failed")

    def _report(self, result: GameResult, line: str) -> None:
        self.log(line)
        if self.on_game_end is not None:
            self.on_game_end(result)

    def _report_failed(self, failure: Failure) -> None:
        if self.failure is None:
            self.failure = failure.value if isinstance(failure.value, Exception) else RuntimeError(str(failure))
        self.log(f"cannot record the game: {failure.getErrorMessage()}")
        self.stop("a game could not be recorded")

    def _finish(self, error: Exception | None = None) -> None:
        """Wait for the reports in flight, end the threads and fire ``done``."""
        if self._finished:
            return
        self._finished = True
        for call in (self._reconnect, self._budget):
            if call is not None and call.active():
                call.cancel()

        def close(_) -> None:
            self.worker.stop()
            self.records.stop()
            failure = error or self.failure
            if failure is not None:
                self.done.errback(failure)
            else:
                self.done.callback(self.tally)

        deferToThreadPool(self.reactor, self.records, lambda: None).addBoth(close)


def run_client(policy, config: ClientConfig, on_game_end=None, log=print) -> Tally:
    """Play on the server with the global reactor in this thread until the client stops.

    Ctrl-C, SIGTERM (and SIGUSR1) stop it after the game in progress; a second one at once.

    Raises:
        CompetitionError: the server cannot be reached, or refuses the token or the protocol version.
    """
    from twisted.internet import reactor

    client = CompetitionClient(policy, config, on_game_end, log, reactor)
    outcome: list = []
    signals = [0]

    def begin() -> None:
        def stopped(result) -> None:
            outcome.append(result)
            reactor.stop()

        client.start().addBoth(stopped)

    def on_signal(name: str) -> None:
        signals[0] += 1
        reactor.callFromThread(client.stop, f"{name} received", signals[0] > 1)

    reactor.callWhenRunning(begin)
    with stop_signals(on_signal):
        reactor.run(installSignalHandlers=False)
    if outcome and isinstance(outcome[0], Failure):
        outcome[0].raiseException()
    return outcome[0] if outcome else client.tally
