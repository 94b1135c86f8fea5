"""The duty roster in a real SQLite store: draft, approval (who, when), changes as events;
and the ``posjaga roster`` commands."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from edge.clock import ManualClock
from edge.config import config_from_mapping
from edge.roster import RosterError, parse_roster_csv
from services.cli import main
from services.roster import RosterStore
from services.runtime import Runtime, open_runtime

DAY = date(2026, 12, 4)
CSV = """date,shift,guard,user_id
2026-12-04,day,Ani,101
2026-12-04,day,Budi,102
2026-12-04,night,Citra,103
2026-12-05,day,Dedi,104
2026-12-05,night,Eko,105
2026-12-05,night,Fajar,106
"""


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 12, 3, 1, 0, tzinfo=timezone.utc))


@pytest.fixture
def rt(tmp_path: Path, clock: ManualClock) -> Runtime:
    config = config_from_mapping({"site": {"id": "kpu-palu"},
                                  "store": {"url": f"sqlite:///{tmp_path}/posjaga.db"}},
                                 "<test>", env={})
    runtime = open_runtime(config, clock)
    yield runtime
    runtime.close()


def store_of(rt: Runtime) -> RosterStore:
    return RosterStore.from_runtime(rt)


def kinds(rt: Runtime) -> list[str]:
    return [e.kind for e in rt.events.query(kind="roster")]


def test_only_an_approved_roster_is_enforced_and_approval_is_recorded(rt, clock) -> None:
    store = store_of(rt)
    draft = store.import_csv(parse_roster_csv(CSV, store.shift_names), "piket.csv", by="Danru")
    assert (draft.status, draft.first_day, draft.last_day, draft.entries) == (
        "draft", DAY, DAY + timedelta(days=1), 6)
    assert store.effective(DAY, DAY + timedelta(days=1)) == ([], {})  # a draft is not enforced
    clock.advance(3600)
    approved = store.approve("Kasubag Umum")
    assert approved.approved_by == "Kasubag Umum" and approved.approved_at == clock.now()
    assignments, covered = store.effective(DAY, DAY + timedelta(days=2))
    assert {(a.day, a.shift, a.guard, a.user_id) for a in assignments} >= {
        (DAY, "day", "Ani", "101"), (DAY + timedelta(days=1), "night", "Fajar", "106")}
    assert covered == {DAY: approved.id, DAY + timedelta(days=1): approved.id}
    assert kinds(rt) == ["roster.guard"] * 6 + ["roster.draft", "roster.approved"]
    event = list(rt.events.query(kind="roster.approved"))[0]
    assert event.occurred_at == clock.now()
    assert event.payload["by"] == "Kasubag Umum"
    assert event.payload["days"]["2026-12-04"] == {"day": ["Ani", "Budi"], "night": ["Citra"]}
    with pytest.raises(RosterError, match="no draft roster to approve"):
        store.approve("Kasubag Umum")


def test_changes_after_approval_need_a_name_and_are_events(rt) -> None:
    store = store_of(rt)
    store.import_csv(parse_roster_csv(CSV, store.shift_names), "piket.csv")
    store.approve("Kasubag Umum")
    with pytest.raises(RosterError, match="needs --by NAME"):
        store.edit(DAY, "night", add=["Budi"])
    change = store.edit(DAY, "night", add=["Budi"], remove=["Citra"], by="Kasubag Umum")
    assert (change.before, change.after) == (["Citra"], ["Budi"])
    event = list(rt.events.query(kind="roster.changed"))[0]
    assert event.payload == {"roster": change.roster.id, "day": "2026-12-04",
                             "shift": "night", "before": ["Citra"], "after": ["Budi"],
                             "by": "Kasubag Umum"}
    assignments, _ = store.effective(DAY, DAY)
    assert sorted((a.shift, a.guard) for a in assignments) == [
        ("day", "Ani"), ("day", "Budi"), ("night", "Budi")]
    before = rt.events.count()
    again = store.edit(DAY, "night", add=["Budi"], by="Kasubag Umum")
    assert not again.changed and rt.events.count() == before  # nothing changed, nothing said


def test_the_roster_approved_last_wins_on_the_days_it_covers(rt) -> None:
    store = store_of(rt)
    store.import_csv(parse_roster_csv(CSV, store.shift_names), "week1.csv")
    first = store.approve("Kasubag Umum")
    store.import_csv(parse_roster_csv(
        "date,shift,guard\n2026-12-05,day,Ani\n2026-12-06,day,Budi\n", store.shift_names),
        "fix.csv")
    second = store.approve("Kasubag Umum")
    _, covered = store.effective(DAY, DAY + timedelta(days=2))
    assert covered == {DAY: first.id, DAY + timedelta(days=1): second.id,
                       DAY + timedelta(days=2): second.id}
    assignments, _ = store.effective(DAY + timedelta(days=1), DAY + timedelta(days=1))
    assert [(a.shift, a.guard) for a in assignments] == [("day", "Ani")]


def test_drafts_are_replaced_drawn_up_by_editing_and_links_checked(rt) -> None:
    store = store_of(rt)
    store.link_guard("Ani", "101")
    store.link_guard("Budi", "102")
    change = store.edit(DAY, "day", add=["Ani"])
    assert change.roster.status == "draft" and change.after == ["Ani"]
    extended = store.edit(DAY + timedelta(days=3), "night", add=["Budi"])
    assert extended.roster.last_day == DAY + timedelta(days=3)
    replaced = store.import_csv(parse_roster_csv(CSV, store.shift_names), "new.csv")
    drafts = [e.payload for e in rt.events.query(kind="roster.draft")]
    assert drafts[-1]["replaces"] == change.roster.id and drafts[-1]["roster"] == replaced.id
    with pytest.raises(RosterError, match="already linked to guard 'Ani'"):
        store.link_guard("Zed", "101")
    with pytest.raises(RosterError, match="not linked to a fingerprint user id"):
        store.edit(DAY, "day", add=["Zed"])
    conflict = "date,shift,guard,user_id\n2026-12-04,day,Ani,101\n2026-12-04,night,Ani,109\n"
    with pytest.raises(RosterError, match="line 3: guard 'Ani' has user id 109"):
        store.import_csv(parse_roster_csv(conflict, store.shift_names), "bad.csv")
    assert store.draft().id == replaced.id  # the failed import changed nothing


# --- the commands ----------------------------------------------------------------------------

def test_roster_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "posjaga.toml"
    config.write_text(f'[site]\nid = "kpu-palu"\n[store]\nurl = "sqlite:///{tmp_path}/p.db"\n')
    csv = tmp_path / "piket.csv"
    csv.write_text(CSV)

    def posjaga(*args: str) -> tuple[int, str, str]:
        code = main(["--config", str(config), "roster", *args])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = posjaga("import", str(csv), "--by", "Danru")
    assert code == 0 and "6 assignments from 2026-12-04 to 2026-12-05" in out
    code, out, _ = posjaga("show", "--draft")
    assert code == 0 and "Ani, Budi" in out and "Eko, Fajar" in out
    with pytest.raises(SystemExit) as exited:  # argparse: --by is required
        posjaga("approve")
    assert exited.value.code == 2
    assert posjaga("approve", "--by", "Kasubag Umum")[0] == 0
    code, _, err = posjaga("edit", "2026-12-04", "night", "--add", "Budi")
    assert code == 2 and err.count("\n") == 1 and "needs --by NAME" in err
    assert posjaga("edit", "2026-12-04", "night", "--add", "Budi", "--by", "Kasubag")[0] == 0
    code, out, _ = posjaga("show", "--from", "2026-12-04", "--days", "3", "--json")
    days = json.loads(out)["days"]
    assert days["2026-12-04"]["shifts"]["night"] == ["Budi", "Citra"]
    assert days["2026-12-06"] == {"roster": None, "shifts": {}}
    for bad in (["edit", "04-12-2026", "day", "--add", "Ani"], ["edit", "2026-12-04", "day"],
                ["show", "--days", "0"], ["guard", "Zed", "--user-id", "101"],
                ["import", str(tmp_path / "missing.csv")]):
        code, _, err = posjaga(*bad)
        assert code == 2 and err.startswith("posjaga: ") and err.count("\n") == 1, bad
    code, out, _ = posjaga("guards", "--json")
    assert {"name": "Fajar", "user_id": "106"} in json.loads(out)


def test_roster_show_without_a_store_says_so(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "posjaga.toml"
    config.write_text(f'[site]\nid = "kpu-palu"\n[store]\nurl = "sqlite:///{tmp_path}/p.db"\n')
    assert main(["--config", str(config), "roster", "show"]) == 1
    assert "no posjaga store there yet" in capsys.readouterr().err
    assert not (tmp_path / "p.db").exists()
