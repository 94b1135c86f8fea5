"""The posjaga command as a person uses it: exit codes, one-sentence errors, no tracebacks."""
from __future__ import annotations

import json

import pytest

from edge.clock import SystemClock
from edge.config import load_config
from services.runtime import open_runtime
from tests.support.running import posjaga, spawn, wait_until, write_config


@pytest.mark.parametrize("args", [[], ["run"], ["events"], ["watch"], ["status"], ["db"],
                                  ["db", "upgrade"], ["config", "check"], ["bench"],
                                  ["bench", "pipeline"], ["demo"]])
def test_help_everywhere(args) -> None:
    result = posjaga(*args, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: posjaga" in result.stdout


def _assert_one_sentence(result, code: int, *fragments: str) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    line = result.stderr.strip()
    assert line.count("\n") == 0 and line.startswith("posjaga: "), result.stderr
    for fragment in fragments:
        assert fragment in line


def test_broken_config_exits_2_with_one_sentence(tmp_path) -> None:
    bad = tmp_path / "posjaga.toml"
    bad.write_text('[site]\nid = "kpu-palu"\n[mqtt]\nwindow = "many"\n')
    _assert_one_sentence(posjaga("-c", str(bad), "config", "check"), 2, str(bad),
                         "'mqtt.window'")
    _assert_one_sentence(posjaga("-c", str(bad), "run"), 2, "'mqtt.window'")
    _assert_one_sentence(posjaga("-c", str(tmp_path / "none.toml"), "status"), 2,
                         "does not exist")


def test_unknown_service_and_bad_options(tmp_path, broker) -> None:
    cfg = write_config(tmp_path / "posjaga.toml", tmp_path / "p.db", broker.url)
    _assert_one_sentence(posjaga("-c", str(cfg), "run", "teleporter"), 2,
                         "unknown service 'teleporter'", "uplink")
    posjaga("-c", str(cfg), "db", "upgrade")
    _assert_one_sentence(posjaga("-c", str(cfg), "events", "--since", "yesterday-ish"), 2,
                         "--since")
    _assert_one_sentence(posjaga("-c", str(cfg), "events", "--limit", "0"), 2, "--limit")


def test_readers_do_not_create_a_store(tmp_path, broker) -> None:
    cfg = write_config(tmp_path / "posjaga.toml", tmp_path / "p.db", broker.url)
    _assert_one_sentence(posjaga("-c", str(cfg), "events"), 1, "no posjaga store")
    assert not (tmp_path / "p.db").exists()


def test_events_json_lines_and_filters(tmp_path, broker) -> None:
    cfg = write_config(tmp_path / "posjaga.toml", tmp_path / "p.db", broker.url)
    rt = open_runtime(load_config(cfg, env={}), SystemClock())
    punch = rt.events.record("attendance.punch", "zk-1", {"user_id": "3"})
    tap = rt.events.record("patrol.tap", "reader-1", {"code": "CP-07"})
    rt.close()
    out = posjaga("-c", str(cfg), "events", "--json")
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["id"] for r in rows] == [punch.id, tap.id]
    assert rows[0]["payload"] == {"user_id": "3"} and rows[0]["sent_at"] is None
    only = posjaga("-c", str(cfg), "events", "--json", "--kind", "patrol", "--since", "1h")
    assert [json.loads(x)["id"] for x in only.stdout.splitlines()] == [tap.id]
    table = posjaga("-c", str(cfg), "events")
    assert "attendance.punch" in table.stdout and "CP-07" in table.stdout
    future = posjaga("-c", str(cfg), "events", "--since", "2100-01-01")
    assert future.returncode == 0 and future.stdout == ""


def test_status_tells_broker_down_then_healthy(tmp_path, broker) -> None:
    cfg = write_config(tmp_path / "posjaga.toml", tmp_path / "p.db", broker.url)
    posjaga("-c", str(cfg), "db", "upgrade")
    down = write_config(tmp_path / "down.toml", tmp_path / "p.db", "mqtt://127.0.0.1:1")
    result = posjaga("-c", str(down), "status")
    assert result.returncode == 1 and "NOT reachable" in result.stdout
    proc = spawn("-m", "services.cli", "-c", str(cfg), "run")
    try:
        def healthy() -> bool:
            return posjaga("-c", str(cfg), "status").returncode == 0
        wait_until(healthy, 20, "status never became healthy")
        report = json.loads(posjaga("-c", str(cfg), "status", "--json").stdout)
        assert report["ok"] and report["broker"]["uplink"] == "online"
        assert report["backlog"] == 0
        assert any(e["kind"] == "system.started" for e in report["last_events"])
    finally:
        proc.terminate()
        assert proc.wait(20) == 0
    stopped = posjaga("-c", str(cfg), "status")
    assert stopped.returncode == 1 and "uplink offline" in stopped.stdout


def test_run_stops_cleanly_on_sigterm_and_records_it(tmp_path, broker, recorder) -> None:
    cfg = write_config(tmp_path / "posjaga.toml", tmp_path / "p.db", broker.url)
    proc = spawn("-m", "services.cli", "-c", str(cfg), "run", "uplink")
    try:
        recorder.wait_for(lambda m: any(x.topic.endswith("/event/system/started") for x in m))
    finally:
        proc.terminate()
        code = proc.wait(20)
    assert code == 0
    recorder.wait_for(lambda m: any(x.topic.endswith("/event/system/stopped") for x in m))
    rt = open_runtime(load_config(cfg, env={}), SystemClock())
    assert rt.events.backlog() == 0  # the goodbye went out before the link closed
    rt.close()


def test_each_process_of_the_post_is_its_own_source_of_life_events() -> None:
    from services.runner import SERVICES, process_source

    assert process_source("pi", list(SERVICES)) == "posjaga@pi"
    assert process_source("pi", ["patrol"]) == "posjaga@pi/patrol"
    assert process_source("pi", ["uplink", "lamp", "commands-lamp"]) == "posjaga@pi/lamp+uplink"
