"""The patrol daemon end to end: simulated readers on real ptys, real pyserial through the real
TagReader, a real SQLite store, a manual clock; a real Mosquitto for the MQTT path.

Waits are on conditions with generous limits, never on measured durations.
"""
from __future__ import annotations

import json
import random
import threading
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo

import pytest

from drivers.tags.rdm6300 import encode_rdm6300_frame
from drivers.tags.simulator import PtyTagReaderSim
from edge.clock import ManualClock
from edge.config import config_from_mapping
from services.patrol import STATE, PatrolService, reader_state
from services.runtime import open_runtime
from tests.support.mqtt import Recorder
from tests.support.running import ThreadedUplink, posjaga, spawn, wait_until

ZONE = ZoneInfo("Asia/Makassar")
DAY = date(2026, 12, 4)
ROOT = "posjaga/kpu-palu"
FAST = {"reconnect_min_s": 0.05, "reconnect_max_s": 0.2, "pn532_poll_interval_s": 0.02}
CHECKPOINTS = [
    {"id": "CP-01", "name": "Lobi", "tags": ["KPU-CP-01"]},
    {"id": "CP-02", "name": "Ruang Ketua", "room": "Lantai 2", "tags": ["KPU-CP-02"]},
    {"id": "CP-03", "name": "Ruang Rapat", "tags": ["KPU-CP-03", "04A1B2C3"]},
    {"id": "CP-04", "name": "Gudang Logistik", "tags": ["KPU-CP-04"]},
]
GUARDS = [{"id": "3", "name": "Budi", "badges": ["62E3086CED", "04112233445566"]}]
OUTCOMES = [{"code": "KPU-AMAN", "state": "secure"},
            {"code": "KPU-M-JENDELA", "state": "problem", "note": "Jendela tidak bisa dikunci"}]
# Readers: a handheld QR scanner, a 125 kHz reader fixed at the store room, an NFC reader.
READERS = {"scanner": ("line", {}), "gudang": ("rdm6300", {"checkpoint": "CP-04"}),
           "nfc": ("pn532", {})}


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=ZONE).astimezone(timezone.utc)


def patrol_section(sims: dict[str, PtyTagReaderSim], **extra: Any) -> dict[str, Any]:
    readers = [{"name": name, "url": sim.url, "framing": sim.framing, **READERS[name][1]}
               for name, sim in sims.items()]
    return {"readers": readers, "checkpoints": CHECKPOINTS, "guards": GUARDS,
            "outcomes": OUTCOMES, **extra}


class Post:
    """The guard post: simulated readers, the store, a manual clock, the daemon on a thread."""

    def __init__(self, tmp_path: Path, readers: tuple[str, ...], start: datetime,
                 mqtt_url: str | None = None, **patrol: Any) -> None:
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.sims = {name: PtyTagReaderSim(name, READERS[name][0], directory=str(tmp_path),
                                           seed=1)
                     for name in readers}
        data: dict[str, Any] = {"site": {"id": "kpu-palu"},
                                "store": {"url": f"sqlite:///{tmp_path}/posjaga.db"},
                                "mqtt": {"poll_s": 0.05, "reconnect_min_s": 0.1},
                                "patrol": patrol_section(self.sims, **patrol)}
        if mqtt_url:
            data["mqtt"]["url"] = mqtt_url
        self.config = config_from_mapping(data, "test.toml", env={})
        self.clock = ManualClock(start)
        self.rt = open_runtime(self.config, self.clock)
        self._running: tuple[PatrolService, threading.Event, threading.Thread] | None = None

    # --- the daemon --------------------------------------------------------------------------

    def start(self) -> PatrolService:
        service = PatrolService(self.rt, reader_options=FAST)
        stop = threading.Event()
        thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
        thread.start()
        self._running = (service, stop, thread)
        self.wait(lambda: [r.link_up for r in service.reader_stats().values()]
                  == [True] * len(self.sims), "every reader opened")
        return service

    @property
    def service(self) -> PatrolService:
        assert self._running is not None
        return self._running[0]

    def stop(self) -> None:
        if self._running is not None:
            _, stop, thread = self._running
            stop.set()
            thread.join(15)
            assert not thread.is_alive(), "the patrol daemon did not stop"
            self._running = None

    def restart(self) -> PatrolService:
        """Stop, open a new runtime on the same store (nothing kept in memory), start."""
        self.stop()
        self.rt.close()
        self.rt = open_runtime(self.config, self.clock)
        return self.start()

    @property
    def alive(self) -> bool:
        return self._running is not None and self._running[2].is_alive()

    def close(self) -> None:
        self.stop()
        self.rt.close()
        for sim in self.sims.values():
            sim.close()

    # --- what it recorded --------------------------------------------------------------------

    def wait(self, condition: Callable[[], bool], what: str, limit: float = 15.0) -> None:
        wait_until(condition, limit, what)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [dict(e.payload) for e in self.rt.events.query(kind=kind)]

    def taps(self, count: int) -> list[dict[str, Any]]:
        self.wait(lambda: len(self.of("patrol.tap")) >= count, f"{count} taps recorded")
        return self.of("patrol.tap")

    def reader(self, name: str) -> dict[str, Any]:
        found = self.rt.states.get(reader_state(name))
        return dict(found.payload) if found else {}

    def state(self) -> dict[str, Any]:
        found = self.rt.states.get(STATE)
        return dict(found.payload) if found else {}

    def tap(self, reader: str, code: str, count: int) -> dict[str, Any]:
        """Tap and wait until the daemon recorded it as the ``count``-th tap."""
        self.sims[reader].tap(code)
        return self.taps(count)[count - 1]


@pytest.fixture
def posts(tmp_path: Path) -> Iterator[Callable[..., Post]]:
    made: list[Post] = []

    def make(*readers: str, start: datetime = local(DAY, 21, 50), **options: Any) -> Post:
        made.append(Post(tmp_path / f"post{len(made)}", readers, start, **options))
        return made[-1]

    yield make
    for post in made:
        post.close()


# --- each framing through the daemon: valid, repeated, corrupt, random ---------------------

def test_line_scanner_valid_repeated_corrupt_and_random_bytes(posts: Callable[..., Post]) -> None:
    post = posts("scanner")
    post.start()
    sim = post.sims["scanner"]
    first = post.tap("scanner", "KPU-CP-01", 1)
    assert first["resolved"] == "checkpoint" and first["starts_round"] is True
    again = post.tap("scanner", "KPU-CP-01", 2)  # scanners may double-read on purpose
    assert again["first_visit"] is False
    sim.write_raw(b"KPU-\x07CP-02\r\n" + b"A" * 200 + b"\r\n" + b"\r\n\r\n")
    noise = sim.garbage(4096)  # seeded: the same bytes every run
    sim.write_raw(b"\r\n")
    sim.tap("KPU-CP-02")
    post.wait(lambda: post.of("patrol.tap")[-1]["code"] == "KPU-CP-02", "the tap after noise")
    taps = post.of("patrol.tap")
    assert taps[-1]["checkpoint"]["id"] == "CP-02" and taps[-1]["first_visit"] is True
    # A printable run between line ends is indistinguishable from a barcode: it is recorded,
    # as unknown, never as a visit.
    accidental = taps[2:-1]
    assert all(t["resolved"] == "unknown" and t["signals"][-1]["signal"] == "foreign_code"
               for t in accidental)
    assert all(t["code"].encode() in noise for t in accidental)
    post.stop()  # the last step publishes the counters
    counters = post.reader("scanner")
    assert counters["rejected"]["non_printable"] >= 1 and counters["rejected"]["overflow"] >= 1
    assert counters["taps"] == len(taps) and counters["up"] is True


def test_rdm6300_repeats_fold_and_bad_checksums_never_become_taps(
        posts: Callable[..., Post]) -> None:
    post = posts("gudang")
    post.start()
    sim = post.sims["gudang"]
    sim.hold("62E3086CED", 5)  # Budi's fob held on the reader fixed at the store room
    visit = post.taps(1)[0]
    assert (visit["resolved"], visit["checkpoint"]["id"], visit["guard"]["name"]) == (
        "badge", "CP-04", "Budi")
    assert visit["tag_kind"] == "em4100" and visit["location"] is None
    sim.write_raw(encode_rdm6300_frame("0102030405", checksum=0x00))
    sim.write_raw(b"\x0262E3086C\x03" + b"\x02ZZZZZZZZZZZZ\x03")
    sim.garbage(2048)
    post.clock.advance(5)  # a new tap of another card, after the hold time
    unknown = post.tap("gudang", "1122334455", 2)
    assert unknown["resolved"] == "unknown" and unknown["raw_hex"].startswith("02")
    assert len(post.of("patrol.tap")) == 2  # the bad frames and the noise made no taps
    post.stop()
    counters = post.reader("gudang")
    assert counters["folded"] == 4 and counters["rejected"]["checksum"] >= 1
    assert counters["rejected_total"] >= 3 and counters["taps"] == 2


def test_pn532_cards_through_corrupt_answers_error_frames_and_noise(
        posts: Callable[..., Post]) -> None:
    post = posts("nfc")
    post.start()
    sim = post.sims["nfc"]
    sim.hold("04A1B2C3", 5)  # a card resting on the reader answers several polls: one tap
    assert post.taps(1)[0]["checkpoint"]["id"] == "CP-03"
    sim.pn532.corrupt_next_responses(1)  # the driver NACKs and the chip repeats
    sim.tap("04112233445566")
    assert post.taps(2)[1]["guard"]["name"] == "Budi"
    # A card shown while the chip answers with an error frame is missed, as with real
    # hardware: wait for the error to be spent, then the noise to be rejected, then tap.
    sim.pn532.error_next_responses(1)
    post.wait(lambda: post.service.reader_stats()["nfc"].driver.get("error_frames") == 1,
              "the error frame answered")
    sim.garbage(64)
    post.wait(lambda: post.service.reader_stats()["nfc"].frames.rejected_total >= 2,
              "the noise rejected")
    post.clock.advance(5)
    sim.tap("04A1B2C3")
    assert post.taps(3)[2]["first_visit"] is False
    post.stop()
    counters = post.reader("nfc")
    assert counters["taps"] == 3 and counters["up"] is True


def test_random_bytes_on_every_reader_never_stop_the_daemon(posts: Callable[..., Post]) -> None:
    post = posts("scanner", "gudang", "nfc")
    post.start()
    rng = random.Random(20261204)
    for _ in range(20):
        for sim in post.sims.values():
            sim.garbage(rng.randbytes(rng.randrange(1, 300)))
    post.sims["scanner"].write_raw(b"\r\n")  # ends whatever line the noise left open
    for name, code in (("scanner", "KPU-CP-01"), ("gudang", "62E3086CED"), ("nfc", "04A1B2C3")):
        post.sims[name].tap(code)
    post.wait(lambda: {"CP-01", "CP-04", "CP-03"} <= {
        t.get("checkpoint", {}).get("id") for t in post.of("patrol.tap")}, "valid taps after noise")
    assert post.alive
    assert all(t["resolved"] == "unknown" for t in post.of("patrol.tap")
               if "checkpoint" not in t)


# --- replug --------------------------------------------------------------------------------

def test_an_unplugged_reader_is_reported_down_and_reopened_without_a_restart(
        posts: Callable[..., Post]) -> None:
    post = posts("scanner", "gudang")
    post.start()
    assert post.of("patrol.reader") == []  # opening at start is a state, not news
    post.sims["scanner"].unplug()
    post.wait(lambda: post.state().get("readers_down") == ["scanner"], "patrol state names it")
    down = post.of("patrol.reader")[0]
    assert down["reader"] == "scanner" and down["up"] is False
    assert down["detail"].startswith("Reader 'scanner' on ") and "unplugged?" in down["detail"]
    assert down["message"].startswith("Pembaca tag 'scanner' terputus")
    post.wait(lambda: post.reader("scanner").get("up") is False, "reader state down")
    assert "'scanner'" in post.reader("scanner")["reason"]
    # The other reader goes on working meanwhile.
    assert post.tap("gudang", "62E3086CED", 1)["checkpoint"]["id"] == "CP-04"
    post.sims["scanner"].replug()
    post.wait(lambda: post.reader("scanner").get("up") is True, "reader state up again")
    assert [r["up"] for r in post.of("patrol.reader")] == [False, True]
    assert post.tap("scanner", "KPU-CP-01", 2)["checkpoint"]["id"] == "CP-01"
    post.wait(lambda: post.state().get("readers_down") == [], "patrol state clear")
    assert post.reader("scanner")["opens"] == 2


# --- rounds through real ports -------------------------------------------------------------

def test_a_night_round_with_a_finding_survives_a_restart_and_the_next_one_is_missed(
        posts: Callable[..., Post]) -> None:
    post = posts("scanner", "gudang")
    post.start()
    post.tap("scanner", "KPU-CP-01", 1)
    post.clock.advance(120)
    post.tap("scanner", "KPU-CP-02", 2)
    post.tap("scanner", "KPU-M-JENDELA", 3)
    post.wait(lambda: len(post.of("patrol.finding")) == 1, "the finding")
    post.wait(lambda: len(post.state()["round"]["visited"]) == 2, "the state saved")

    post.restart()  # a new runtime on the same store: the round comes from the store
    assert post.state()["round"]["status"] == "in_progress"
    post.clock.advance(120)
    post.tap("scanner", "KPU-CP-03", 4)
    post.clock.advance(120)
    post.tap("gudang", "62E3086CED", 5)
    post.wait(lambda: len(post.of("patrol.round")) == 1, "the round ends")
    done = post.of("patrol.round")[0]
    assert done["outcome"] == "complete" and done["late"] is False
    assert [v["id"] for v in done["visited"]] == ["CP-01", "CP-02", "CP-03", "CP-04"]
    assert done["findings"][0]["note"] == "Jendela tidak bisa dikunci"

    # Nobody walks the 01:00 round: the running daemon wakes by itself and says so.
    post.clock.advance((local(DAY + timedelta(days=1), 3) - post.clock.now()).total_seconds())
    post.wait(lambda: len(post.of("patrol.round")) == 2, "the missed round")
    missed = post.of("patrol.alert")[-1]
    assert missed["alert"] == "missed" and missed["round"] == "20261205-0100"
    assert missed["message"].endswith("Lobi, Ruang Ketua, Ruang Rapat, Gudang Logistik.")
    daily = post.of("patrol.daily")[0]
    assert daily["date"] == "2026-12-04" and daily["counts"]["findings"] == 1
    kinds = [e.kind for e in post.rt.events.query(kind="patrol")
             if e.kind in ("patrol.daily", "patrol.alert")]
    # In time order: the day's report at 00:00, late at 01:30, missed at 03:00.
    assert kinds == ["patrol.daily", "patrol.alert", "patrol.alert"]


def test_a_power_cut_before_the_round_was_stored_is_caught_up_from_the_log(
        posts: Callable[..., Post]) -> None:
    post = posts("scanner")
    post.start()
    post.tap("scanner", "KPU-CP-01", 1)
    post.wait(lambda: len(post.state()["round"]["visited"]) == 1, "the state saved")
    on_disk = post.state()
    post.clock.advance(120)
    post.tap("scanner", "KPU-CP-02", 2)
    post.tap("scanner", "KPU-M-JENDELA", 3)
    post.wait(lambda: len(post.state()["round"]["findings"]) == 1, "the state saved again")
    post.stop()
    # The power went before the state's second write reached the disk: the taps' events
    # (committed first) are there, the stored round is the one of the first tap.
    post.rt.states.set(STATE, on_disk)

    post.restart()
    post.wait(lambda: len(post.state()["round"]["visited"]) == 2, "the round caught up")
    saved = post.state()["round"]
    assert [v["id"] for v in saved["visited"]] == ["CP-01", "CP-02"]
    assert saved["findings"][0]["note"] == "Jendela tidak bisa dikunci"
    assert [cp["id"] for cp in saved["remaining"]] == ["CP-03", "CP-04"]
    assert len(post.of("patrol.tap")) == 3  # nothing recorded twice


def test_an_incomplete_round_names_what_was_missed_and_the_guard_on_duty_is_credited(
        posts: Callable[..., Post]) -> None:
    post = posts("scanner", start=local(DAY, 15, 55))
    post.rt.states.set("duty", {"guards": [{"id": "3", "name": "Budi"}]})
    post.start()
    assert post.tap("scanner", "KPU-CP-01", 1)["guard"] == {"id": "3", "name": "Budi",
                                                             "via": "duty"}
    post.clock.advance(60)
    post.tap("scanner", "KPU-CP-03", 2)
    post.clock.advance((local(DAY, 18) - post.clock.now()).total_seconds())
    post.wait(lambda: post.of("patrol.round") != [], "the round ends")
    ended = post.of("patrol.round")[0]
    assert ended["outcome"] == "incomplete"
    assert [m["name"] for m in ended["missing"]] == ["Ruang Ketua", "Gudang Logistik"]
    assert post.of("patrol.alert")[-1]["message"] == (
        "Ronde patroli 04/12 16:00 WITA tidak lengkap: 2 titik tidak diperiksa: "
        "Ruang Ketua, Gudang Logistik.")


# --- the MQTT path -------------------------------------------------------------------------

def test_taps_and_the_retained_round_reach_a_subscriber(posts: Callable[..., Post], broker: Any,
                                                        recorder: Recorder) -> None:
    post = posts("scanner", mqtt_url=broker.url)
    uplink = ThreadedUplink(post.rt)
    try:
        uplink.wait_connected()
        post.start()
        post.sims["scanner"].tap("KPU-CP-01")
        msgs = recorder.wait_for(lambda m: any(x.topic == f"{ROOT}/event/patrol/tap"
                                               for x in m))
        tap = next(x for x in msgs if x.topic == f"{ROOT}/event/patrol/tap").json()
        assert tap["kind"] == "patrol.tap" and tap["source"] == "tags:scanner"
        assert tap["payload"]["checkpoint"]["name"] == "Lobi"
        assert tap["occurred_at"] == "2026-12-04T13:50:00.000000Z"

        def round_started(m: list[Any]) -> bool:
            states = [x for x in m if x.topic == f"{ROOT}/state/patrol"]
            return bool(states) and states[-1].json()["round"]["status"] == "in_progress"
        recorder.wait_for(round_started)
        late = Recorder(broker.port, f"{ROOT}/state/#")  # a supervisor opening the app now
        try:
            got = late.wait_for(lambda m: {f"{ROOT}/state/patrol", f"{ROOT}/state/reader/scanner"}
                                <= {x.topic for x in m})
            retained = {x.topic: x for x in got}
            assert retained[f"{ROOT}/state/patrol"].retain
            assert retained[f"{ROOT}/state/patrol"].json()["round"]["visited"][0]["id"] == "CP-01"
            assert retained[f"{ROOT}/state/reader/scanner"].json()["up"] is True
        finally:
            late.close()
    finally:
        post.stop()
        uplink.close()


# --- the command line ----------------------------------------------------------------------

def test_the_commands_have_help_and_refuse_a_patrol_without_checkpoints(tmp_path: Path) -> None:
    for args in (["sim", "tags"], ["bench", "patrol"]):
        result = posjaga(*args, "--help")
        assert result.returncode == 0 and "usage: posjaga" in result.stdout, result.stderr
    config = tmp_path / "posjaga.toml"
    config.write_text(f'[site]\nid = "kpu-palu"\n[store]\nurl = "sqlite:///{tmp_path}/p.db"\n')
    result = posjaga("--config", str(config), "run", "patrol")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"posjaga: {config}: the patrol service needs at least one [[patrol.checkpoints]] table "
        "(see posjaga.example.toml)")


def test_posjaga_sim_tags_drives_the_daemon_from_a_script(tmp_path: Path) -> None:
    script = tmp_path / "night.txt"
    script.write_text("# a guard's first checkpoints\n+3 KPU-CP-01\n+0.2 8992761002015\n"
                      "+0.2 !garbage hex:ff00fe0d0a\n+0.2 KPU-CP-02\n")
    sim = spawn("-m", "services.cli", "sim", "tags", "--reader", "scanner:line",
                "--dir", str(tmp_path), "--script", str(script), "--linger", "1")
    try:
        assert sim.stdout is not None
        url = sim.stdout.readline().split(": ", 1)[1].strip()
        config = config_from_mapping({
            "site": {"id": "kpu-palu"}, "store": {"url": f"sqlite:///{tmp_path}/p.db"},
            "patrol": {"readers": [{"name": "scanner", "url": url}],
                       "checkpoints": CHECKPOINTS}}, "test.toml", env={})
        rt = open_runtime(config, ManualClock(local(DAY, 21, 50)))
        service, stop = PatrolService(rt, reader_options=FAST), threading.Event()
        thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
        thread.start()
        try:
            wait_until(lambda: len(list(rt.events.query(kind="patrol.tap"))) >= 3, 20,
                       "the scripted taps")
        finally:
            stop.set()
            thread.join(15)
        taps = [e.payload for e in rt.events.query(kind="patrol.tap")]
        assert [(t["code"], t["resolved"]) for t in taps] == [
            ("KPU-CP-01", "checkpoint"), ("8992761002015", "unknown"), ("KPU-CP-02", "checkpoint")]
        rt.close()
    finally:
        sim.wait(20)


# --- the demo ------------------------------------------------------------------------------

def test_the_demo_walks_a_round_with_findings_an_unknown_tag_and_a_pulled_cable(
        tmp_path: Path) -> None:
    from edge.clock import ScaledClock
    from services.patrol_demo import PatrolDemo

    demo = PatrolDemo(tmp_path)
    data: dict[str, Any] = {"site": {"id": "kpu-palu"}, "services": {"enabled": ["patrol"]},
                            "store": {"url": f"sqlite:///{tmp_path}/demo.db"}}
    demo.configure(data)
    rt = open_runtime(config_from_mapping(data, "<demo>", env={}), ScaledClock(180))
    stop, said = threading.Event(), []
    service = PatrolService(rt, reader_options=FAST)
    threads = [threading.Thread(target=service.run, args=(stop,), daemon=True),
               threading.Thread(target=demo.scene, args=(rt, stop, said.append), daemon=True)]
    for thread in threads:
        thread.start()

    def of(kind: str) -> list[dict[str, Any]]:
        return [dict(e.payload) for e in rt.events.query(kind=kind)]
    try:
        wait_until(lambda: [r["up"] for r in of("patrol.reader")] == [False, True], 60,
                   "the first round and the pulled cable")
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
        demo.close()
    (done,) = of("patrol.round")
    assert done["outcome"] == "complete" and done["late"] is False
    assert done["guard"]["name"] == "Budi"
    assert [(f["checkpoint"]["id"], f["state"]) for f in of("patrol.finding")] == [
        ("CP-02", "electronics_off"), ("CP-03", "problem"), ("CP-04", "door_locked")]
    assert [t["code"] for t in of("patrol.tap") if t["resolved"] == "unknown"] == [
        "8992761002015"]
    assert any("cable is pulled" in line for line in said)
    rt.close()


def test_bench_patrol_prints_its_figures_and_loses_nothing() -> None:
    result = posjaga("bench", "patrol", "--json", "--samples", "20", "--frames", "500")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["lost"] == 0 and figures["samples"] == 20
    for key in ("p50_ms", "p99_ms", "raw_p99_ms", "spine_p99_ms", "p99_over_raw_p99"):
        assert figures[key] > 0
    for framing in ("line", "rdm6300"):
        reader = figures["reader"][framing]
        assert (reader["lost"], reader["wrong"], reader["frames"]) == (0, 0, 500)
        assert reader["rejected"] > 0 and reader["frames_per_s"] > 0
