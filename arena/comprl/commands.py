"""The competition server's seven AMP commands, as the server defines them (protocol version 1).

Every command comes from the server; the client only answers. Text fields are declared as raw
bytes (``String``) and decoded by the client itself, so that a server text that is not UTF-8
cannot make Twisted's decoder raise inside a responder (Twisted then answers ``UNKNOWN`` and
closes the connection: a disconnect).
"""

from __future__ import annotations

from twisted.protocols import amp

PROTOCOL_VERSION = 1
DEFAULT_PORT = 65335


class Auth(amp.Command):
    """The server's first question: the access token and the protocol version."""

    arguments: list = []
    response = [(b"token", amp.String()), (b"version", amp.Integer())]


class Ready(amp.Command):
    """After authentication and after each game (before ``EndGame``): queue for a game?"""

    arguments: list = []
    response = [(b"ready", amp.Boolean())]


class StartGame(amp.Command):
    """A game starts; ``game_id`` is its UUID's 16 raw bytes. The first ``Step`` follows at once."""

    arguments = [(b"game_id", amp.String())]
    response: list = []


class Step(amp.Command):
    """One tick: the observation (18 floats, own frame) in, the action (4 floats in [-1, 1]) out."""

    arguments = [(b"obv", amp.ListOf(amp.Float()))]
    response = [(b"action", amp.ListOf(amp.Float()))]


class EndGame(amp.Command):
    """The game is over: ``result`` True only for the winner; ``stats`` = [own round wins, opponent's]."""

    arguments = [(b"result", amp.Boolean()), (b"stats", amp.ListOf(amp.Float()))]
    response: list = []


class Error(amp.Command):
    """The server's last word before it closes the connection (a wrong token, a timeout, ...)."""

    arguments = [(b"msg", amp.String())]
    response: list = []


class Message(amp.Command):
    """Information from the server ("Authentication successful", "Waiting in queue", ...)."""

    arguments = [(b"msg", amp.String())]
    response: list = []
