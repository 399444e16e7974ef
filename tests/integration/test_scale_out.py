"""Small versions of the scale-out benchmarks (issue 22), run as tests: what they check is exactness, never
this machine's speed.

- 2 workers driving a few hundred streams against the known-timing fake server (benchmarks/scale_out.py):
  every request the server completed is in records.jsonl exactly once, from both workers.
- the master fed by record feeders (benchmarks/master_load.py, no requests): every record the feeders sent
  is written once, so the feeders still speak llmload's worker protocol (messages and flush handshake)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest
from simulator import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

import master_load  # noqa: E402
import scale_out  # noqa: E402

pytestmark = pytest.mark.alone  # run with no other test beside it: it drives a few hundred streams: its neighbour would be the one disturbed


def test_two_workers_record_a_few_hundred_streams_exactly_once(tmp_path: Path) -> None:
    (row,) = scale_out.main(["--workers", "2", "--streams-per-worker", "120", "--window-s", "3",
                             "--out", str(tmp_path)])
    assert row["once"] == "yes", row  # records = the server's completed requests, unique ids, sent = received
    assert row["streams"] == 240 and row["requests_in_window"] > 0
    run_dir = tmp_path / "workers-2" / "run"
    records = [json.loads(line) for line in (run_dir / "records.jsonl").open()]
    assert len(records) >= 240 and all(r["ok"] for r in records)  # every stream finished a request
    assert len({r["worker"] for r in records}) == 2
    assert {r["output_tokens"] for r in records} == {32}  # the benchmark's default answer length


def test_the_master_writes_every_record_its_feeders_send_once(tmp_path: Path) -> None:
    args = argparse.Namespace(rates=[200.0, 600.0], plateau_s=3.0, feeders=2, tokens=64, batch=100,
                              master_cpu="", feeder_cpus="")
    plateaus, once, record_bytes = master_load.run(args, tmp_path)
    assert once == "yes"
    assert [p.rate_rps for p in plateaus] == [200.0, 600.0]
    for plateau in plateaus:  # the feeders send what they are asked (their own clock), whatever the load
        assert plateau.sent_rps == pytest.approx(plateau.rate_rps, rel=0.1)
    assert 2000 < record_bytes < 4000  # shaped like a real 64-token, 100-comment record
