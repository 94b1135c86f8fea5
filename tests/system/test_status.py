"""`posjaga status` on a running post: all well, a device down, the broker down; exit codes and
no secret anywhere."""
from __future__ import annotations

import json
from pathlib import Path

from drivers.tags.simulator import PtyTagReaderSim
from tests.support.running import posjaga, spawn, wait_until

SECRET = "s3cr3t-pw"


def _config(tmp_path: Path, port: int, reader_url: str) -> Path:
    path = tmp_path / "posjaga.toml"
    path.write_text(f"""
[site]
id = "kpu-palu"
[store]
url = "sqlite:///{tmp_path}/p.db"
[mqtt]
url = "mqtt://posjaga-uplink:{SECRET}@127.0.0.1:{port}"
reconnect_min_s = 0.1
reconnect_max_s = 0.5
poll_s = 0.05
[services]
enabled = ["uplink", "patrol"]
[[patrol.readers]]
name = "scanner"
url = "{reader_url}"
[[patrol.checkpoints]]
id = "CP-01"
name = "Ruang Ketua"
tags = ["KPU-CP-01"]
""")
    return path


def _status(cfg: Path, screen: bool = False) -> tuple[int, dict]:
    result = posjaga("-c", str(cfg), "status", "--json")
    assert SECRET not in result.stdout + result.stderr
    if screen:
        text = posjaga("-c", str(cfg), "status")
        assert SECRET not in text.stdout + text.stderr and "daemons:" in text.stdout
        assert text.returncode == result.returncode
    if not result.stdout:  # the daemons have not created the store yet
        return result.returncode, {"problems": [result.stderr], "broker": {}}
    return result.returncode, json.loads(result.stdout)


def test_status_all_well_then_a_device_down_then_the_broker_down(tmp_path: Path,
                                                                 broker) -> None:
    with PtyTagReaderSim("scanner", "line") as reader:
        cfg = _config(tmp_path, broker.port, reader.url)
        proc = spawn("-m", "services.cli", "-c", str(cfg), "run")
        try:
            wait_until(lambda: _status(cfg)[0] == 0, 30, "the post never became healthy")
            code, report = _status(cfg, screen=True)
            assert report["ok"] and report["problems"] == []
            assert {d["name"]: d["state"] for d in report["daemons"]} == {
                "patrol": "running", "uplink": "running"}
            assert report["devices"] == [{"name": "tag reader scanner", "up": True,
                                          "since": report["devices"][0]["since"],
                                          "detail": reader.url}]
            assert "synced" in report["clock"] and report["broker"]["uplink"] == "online"

            reader.unplug()
            wait_until(lambda: any("tag reader scanner is down" in p
                                   for p in _status(cfg)[1]["problems"]), 30,
                       "the unplugged reader was never reported")
            code, report = _status(cfg, screen=True)
            assert code == 1 and not report["ok"]
            reader.replug()
            wait_until(lambda: _status(cfg)[0] == 0, 30, "the replugged reader was not seen")

            broker.stop()
            wait_until(lambda: not _status(cfg)[1]["broker"].get("reachable"), 30, "broker")
            code, report = _status(cfg, screen=True)
            assert code == 1
            assert any("is not reachable" in p for p in report["problems"])
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0
        assert SECRET not in err  # nor in the daemons' log
    code, report = _status(cfg)
    assert code == 1 and {d["name"]: d["state"] for d in report["daemons"]} == {
        "patrol": "stopped", "uplink": "stopped"}
