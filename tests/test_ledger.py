"""The match ledger: concurrent writers lose nothing, torn and corrupted lines are detected and
ignored, repeated game ids count once, and the rating order does not depend on file order."""

from __future__ import annotations

import multiprocessing

import pytest

from league.ledger import LedgerReader, LedgerWriter, decode, encode, read_ledger


def _game(game_id: str, **extra) -> dict:
    return {"type": "game", "id": game_id, "match": game_id.rsplit(":", 1)[0], "kind": "evaluation", "a": "x",
            "b": "y", "outcome": 1, **extra}  # fmt: skip


def _write_many(league_dir: str, role: str, count: int, start_event) -> None:
    start_event.wait()
    with LedgerWriter(league_dir, role=role) as writer:
        for i in range(count):
            writer.append(_game(f"{role}:{i}", payload="z" * (i % 97)))  # records of varied length


def test_concurrent_writers_lose_nothing(tmp_path):
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    processes = [context.Process(target=_write_many, args=(str(tmp_path), f"w{k}", 400, start)) for k in range(4)]
    for process in processes:
        process.start()
    reader = LedgerReader(tmp_path)
    start.set()
    while any(p.is_alive() for p in processes):
        reader.refresh()  # reading while the others write must not lose or tear anything
    for process in processes:
        process.join()
        assert process.exitcode == 0
    view = reader.refresh(final=True)
    assert len(view.games) == 1600 and not view.skipped and view.duplicates == 0
    assert {g["id"] for g in view.games} == {f"w{k}:{i}" for k in range(4) for i in range(400)}
    assert len(list((tmp_path / "ledger").glob("*.jsonl"))) == 4  # one file per process


def test_torn_last_record_is_ignored_and_reported(tmp_path):
    with LedgerWriter(tmp_path, role="a") as writer:
        for i in range(3):
            writer.append(_game(f"m:{i}"))
        path = writer.path
    line = encode({**_game("m:3"), "writer": "a", "time": 0.0})
    with open(path, "ab") as file:
        file.write(line[: len(line) // 2])  # a process killed in the middle of a write
    reader = LedgerReader(tmp_path)
    view = reader.refresh()
    assert [g["id"] for g in view.games] == ["m:0", "m:1", "m:2"] and not view.skipped  # may still be in flight
    final = read_ledger(tmp_path)
    assert len(final.games) == 3 and len(final.skipped) == 1 and "torn" in final.skipped[0]


def test_corrupted_line_is_skipped_and_the_rest_kept(tmp_path):
    with LedgerWriter(tmp_path, role="a") as writer:
        for i in range(5):
            writer.append(_game(f"m:{i}"))
        path = writer.path
    data = bytearray(path.read_bytes())
    second = data.index(b"\n") + 1
    data[second + 30] ^= 0x01  # flip one bit inside the second record
    path.write_bytes(bytes(data))
    view = read_ledger(tmp_path)
    assert [g["id"] for g in view.games] == ["m:0", "m:2", "m:3", "m:4"]
    assert len(view.skipped) == 1 and "corrupted" in view.skipped[0]


def test_a_game_recorded_twice_counts_once(tmp_path):
    with LedgerWriter(tmp_path, role="first") as writer:
        writer.append(_game("m:0"))
    with LedgerWriter(tmp_path, role="restarted") as writer:  # the same game played again after a restart
        writer.append(_game("m:0"))
        writer.append(_game("m:1"))
    view = read_ledger(tmp_path)
    assert sorted(g["id"] for g in view.games) == ["m:0", "m:1"] and view.duplicates == 1
    assert len(view.by_match["m"]) == 2


def test_rated_order_is_canonical(tmp_path):
    with LedgerWriter(tmp_path, role="z") as late, LedgerWriter(tmp_path, role="a") as early:
        late.append(_game("m:1", time=2.0))
        early.append(_game("m:0", time=1.0))
        early.append({**_game("t:0"), "kind": "train", "time": 0.5})
    view = read_ledger(tmp_path)
    assert [g["id"] for g in view.rated_games()] == ["m:0", "m:1"]  # training games are not rated


def test_records_are_checked_lines(tmp_path):
    line = encode({"type": "game", "id": "x"})
    assert line.endswith(b"\n") and decode(line) == {"type": "game", "id": "x"}
    assert decode(line[:-5] + b"\n") is None
    assert decode(b"garbage\n") is None
    with LedgerWriter(tmp_path, role="t") as writer, pytest.raises(ValueError, match="type"):
        writer.append({"id": "no type"})
