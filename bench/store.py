"""`python -m bench.store`: event write and webhook claim throughput, SQLite next to PostgreSQL.

What a node does per event, through the real `Store`: the emitter writes a result and its outbox
row in one transaction (one writer, as one emit process per node); deliverers claim due rows
(`claim_deliveries`, FOR UPDATE SKIP LOCKED on PostgreSQL) and settle each (`mark_delivered`),
here with several claimers at once, each with its own store as separate nodes would be.

PostgreSQL runs as a throwaway local server (the tests' `PostgresServer`) with fsync on, once with
the default `synchronous_commit=on` (every commit flushed to disk) and once with it off, which is
the same promise as SQLite's WAL with `synchronous=NORMAL`: a power cut may lose the last
commits, never corrupt the database. Prints a markdown table and writes bench/results/store.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.fixtures import REPO
from facegate.store import OutboxStatus, Store, iso_now

RESULTS = REPO / "bench" / "results"


@dataclass
class Figure:
    backend: str
    events: int
    claimers: int
    write_per_s: float
    claim_per_s: float


def _result(i: int) -> dict:
    return {
        "timestamp": iso_now(),
        "name": f"Person {i % 50}",
        "confidence": 0.61,
        "distance": 0.39,
        "box": {"top": 100, "right": 260, "bottom": 280, "left": 80},
    }


def write_events(store: Store, count: int) -> float:
    """Events per second written as the emitter writes them: result + outbox row, one transaction each."""
    body = json.dumps({"result": _result(0), "camera_id": "cam0", "camera_stream_url": "rtsp://cam"})
    started = time.perf_counter()
    for i in range(count):
        store.results.add(f"evt_bench_{i:07d}", _result(i), "cam0", "rtsp://cam", body)
    return count / (time.perf_counter() - started)


def claim_all(stores: list[Store], count: int, batch: int = 20) -> float:
    """Events per second claimed and settled by `len(stores)` claimers working the same outbox."""
    done: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(len(stores))

    def work(node: str, store: Store) -> None:
        settled = 0
        start.wait()
        for _ in range(count):  # bounded: each round settles at least one row or ends
            claimed = store.outbox.claim(node, time.time(), limit=batch, lease_s=60.0)
            if not claimed:
                break
            for row in claimed:
                store.outbox.mark_delivered(row["event_id"], 1, time.time())
            settled += len(claimed)
        with lock:
            done.append(settled)

    threads = [threading.Thread(target=work, args=(f"node-{i}", s)) for i, s in enumerate(stores)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if sum(done) != count:
        raise RuntimeError(f"claimed {sum(done)} of {count} events")
    return count / elapsed


def measure(backend: str, data_dir: Path, url: str, *, events: int, claimers: int) -> Figure:
    writer = Store(data_dir, database_url=url)
    try:
        write_rate = write_events(writer, events)
        stores = [Store(data_dir, database_url=url) for _ in range(claimers)]
        try:
            claim_rate = claim_all(stores, events)
        finally:
            for s in stores:
                s.close()
        if writer.outbox.counts()[OutboxStatus.DELIVERED] != events:
            raise RuntimeError(f"{backend}: not every event was settled")
    finally:
        writer.close()
    return Figure(backend, events, claimers, round(write_rate, 1), round(claim_rate, 1))


def table(figures: list[Figure]) -> str:
    lines = [
        "| store | events | event writes/s (1 writer) | webhook claims+settles/s (claimers) |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {f.backend} | {f.events} | {f.write_per_s:.0f} | {f.claim_per_s:.0f} ({f.claimers}) |" for f in figures
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.store", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="events written, then claimed (default 2000)")
    parser.add_argument("--claimers", type=int, default=2, help="claimers working the outbox at once (default 2)")
    args = parser.parse_args(argv)
    from tests.support.pgserver import PostgresServer

    figures = []
    with tempfile.TemporaryDirectory(prefix="facegate-bench-store-") as tmp:
        root = Path(tmp)
        print("[bench.store] SQLite", file=sys.stderr, flush=True)
        figures.append(
            measure("SQLite (WAL, synchronous=NORMAL)", root / "sqlite", "", events=args.events, claimers=args.claimers)
        )
        with PostgresServer(durable=True) as server:
            for label, options in (
                ("PostgreSQL 15 (synchronous_commit=on)", ""),
                ("PostgreSQL 15 (synchronous_commit=off)", "?options=-csynchronous_commit%3Doff"),
            ):
                print(f"[bench.store] {label}", file=sys.stderr, flush=True)
                url = server.create_database("bench") + options
                figures.append(measure(label, root / "pg", url, events=args.events, claimers=args.claimers))
    print(table(figures))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "store.json").write_text(json.dumps([asdict(f) for f in figures], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
