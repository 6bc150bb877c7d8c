"""Put a policy on the course's competition server (comprl) and keep it there.

    python scripts/compete.py models/sac-hockey/policy.pt --server-url HOST --token TOKEN
    python scripts/compete.py strong --games 10         # with COMPRL_SERVER_URL, COMPRL_ACCESS_TOKEN set
    python scripts/compete.py runs/league/members/M.pt --league-dir runs/league   # results into the ledger

POLICY is a checkpoint, a scripted player (weak, strong, random, idle) or an external policy
py:PATH.py:FUNCTION. The server, its port and the access token come from the options or from
COMPRL_SERVER_URL, COMPRL_SERVER_PORT and COMPRL_ACCESS_TOKEN (the reference client's names). It
plays game after game until --games or --minutes is spent or it is stopped (Ctrl-C or SIGTERM
finish the game in progress; a second one stops at once), reconnecting after a lost connection,
and prints one line per game. Needs Twisted: pip install -e .[server].
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path

# scripts/league.py shares its name with the league package: keep this directory off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from agents.checkpoint import load_checkpoint  # noqa: E402
from agents.external import is_external  # noqa: E402
from agents.registry import AGENTS, ALIASES, canonical_name, make_policy  # noqa: E402
from plumbing.cli import entry_point  # noqa: E402

DEADLINE = 10.0  # seconds the course server waits for an answer
SERVER_PORT = 65335  # the course server's port, and the reference client's default


def _setting(value, variable: str, option: str, what: str) -> str:
    """An option's value, else its environment variable's, else a one-line error."""
    value = value if value is not None else os.environ.get(variable)
    if value is None or not str(value).strip():
        raise ValueError(f"no {what} given: pass {option} or set {variable}")
    return str(value).strip()


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise ValueError(f"server port {text!r} is not a port: expected an integer in 1..65535 (the course's: 65335)")
    return port


def _member_id(text: str, policy) -> tuple[str | None, str, str | None]:
    """(sha256 or None, the id used outside a league, the scripted name or None) of POLICY."""
    if is_external(text):
        return policy.sha256, f"{Path(text[3:].rpartition(':')[0]).stem}-{policy.sha256[:8]}", None
    key = ALIASES.get(text, text)
    if key in AGENTS and not AGENTS[key].learns:
        return None, canonical_name(key), key
    checkpoint = load_checkpoint(text)
    return checkpoint.sha256, f"{checkpoint.algorithm}-{checkpoint.step}-{checkpoint.sha256[:8]}", None


@entry_point
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "policy",
        metavar="POLICY",
        help="checkpoint (.pt), scripted player (weak, strong, random, idle) or py:PATH.py:FUNCTION",
    )
    parser.add_argument("--server-url", help="the server's host (default: $COMPRL_SERVER_URL)")
    parser.add_argument("--server-port", help=f"its port (default: $COMPRL_SERVER_PORT, else {SERVER_PORT})")
    parser.add_argument(
        "--token", help="your access token, from the server's web dashboard (default: $COMPRL_ACCESS_TOKEN)"
    )
    parser.add_argument("--games", type=int, help="stop after this many games (default: until stopped)")
    parser.add_argument(
        "--minutes",
        type=float,
        help="stop after the game in progress once this many minutes have passed (default: until stopped)",
    )
    parser.add_argument("--league-dir", help="append each game to this league's ledger (kind 'server', never rated)")
    parser.add_argument("--device", default="auto", help="where a checkpoint's policy runs: auto, cpu, cuda or cuda:N")
    parser.add_argument("--seed", type=int, default=0, help="seed of a scripted player's generator")
    args = parser.parse_args(argv)
    try:
        from arena.comprl.client import ClientConfig, check_policy_speed, run_client
    except ImportError as error:
        raise ValueError(
            f"playing on the server needs Twisted ({error}); install it with: pip install -e .[server]"
        ) from None
    host = _setting(args.server_url, "COMPRL_SERVER_URL", "--server-url", "server")
    port = _port(
        _setting(args.server_port, "COMPRL_SERVER_PORT", "--server-port", "port")
        if args.server_port is not None or os.environ.get("COMPRL_SERVER_PORT")
        else str(SERVER_PORT)
    )
    token = _setting(args.token, "COMPRL_ACCESS_TOKEN", "--token", "access token")
    if args.games is not None and args.games < 1:
        raise ValueError(f"--games must be at least 1, got {args.games} (leave it out to play until stopped)")
    if args.minutes is not None and args.minutes <= 0:
        raise ValueError(f"--minutes must be positive, got {args.minutes} (leave it out to play until stopped)")
    config = ClientConfig(host, port, token, games=args.games, minutes=args.minutes, deadline=DEADLINE)
    log = functools.partial(print, flush=True)

    policy = make_policy(args.policy, seed=args.seed, device=args.device)
    took = check_policy_speed(policy, DEADLINE)
    log(f"{args.policy}: one act takes {1000 * took:.1f} ms (the server allows {DEADLINE:g} s per step)")
    games_log = None
    if args.league_dir is not None:
        from league.server_games import ServerGameLog, league_member

        sha256, outside_id, scripted = _member_id(args.policy, policy)
        member = league_member(args.league_dir, sha256=sha256, scripted=scripted)
        if member is not None:
            log(f"recording its games in {args.league_dir}'s ledger as member {member}")
        else:
            member = outside_id
            log(
                f"{args.policy} is not a member of the league in {args.league_dir}; recording its games there "
                f"as {member}"
            )
        games_log = ServerGameLog(args.league_dir, member)
    try:
        tally = run_client(policy, config, on_game_end=games_log.record if games_log else None, log=log)
    finally:
        if games_log is not None:
            games_log.close()
    log(f"stopped after {tally.games} games: {tally}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
