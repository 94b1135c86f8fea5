"""What patrol alerts and reports say, in Indonesian unless the site asks for English."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo

TEXTS: Mapping[str, Mapping[str, str]] = {
    "late": {
        "id": "Ronde patroli {due} terlambat: belum selesai {grace} menit setelah jadwal. "
              "Belum diperiksa: {names}.",
        "en": "Patrol round {due} is late: not finished {grace} minutes after it was due. "
              "Not checked yet: {names}.",
    },
    "missed": {
        "id": "Ronde patroli {due} terlewat: tidak dimulai sampai {deadline}. Titik yang "
              "terlewat: {names}.",
        "en": "Patrol round {due} was missed: it did not start by {deadline}. Checkpoints "
              "missed: {names}.",
    },
    "missed_unobserved": {
        "id": "Ronde patroli {due} tidak tercatat: layanan patroli tidak berjalan sampai "
              "{deadline}. Titik tanpa catatan: {names}.",
        "en": "Patrol round {due} was not recorded: the patrol service was not running until "
              "{deadline}. Checkpoints without a record: {names}.",
    },
    "incomplete": {
        "id": "Ronde patroli {due} tidak lengkap: {count} titik tidak diperiksa: {names}.",
        "en": "Patrol round {due} is incomplete: {count} checkpoints were not checked: "
              "{names}.",
    },
    "finding": {
        "id": "Temuan patroli di {checkpoint}{room}: {note}.",
        "en": "Patrol finding at {checkpoint}{room}: {note}.",
    },
    "reader_down": {
        "id": "Pembaca tag '{reader}' terputus; tap di pembaca ini tidak tercatat sampai "
              "tersambung kembali.",
        "en": "Tag reader '{reader}' is down; taps on it are not recorded until it is back.",
    },
    "reader_up": {
        "id": "Pembaca tag '{reader}' tersambung kembali.",
        "en": "Tag reader '{reader}' is back.",
    },
    "daily": {
        "id": "Patroli {date}: {rounds} ronde, {complete} lengkap ({late} terlambat), "
              "{incomplete} tidak lengkap, {missed} terlewat; {findings} temuan.",
        "en": "Patrol {date}: {rounds} rounds, {complete} complete ({late} late), "
              "{incomplete} incomplete, {missed} missed; {findings} findings.",
    },
}

# What an outcome code means when the sheet gives no note of its own.
STATE_NOTES: Mapping[str, Mapping[str, str]] = {
    "secure": {"id": "semua aman: elektronik mati, pintu terkunci",
               "en": "all secure: electronics off, door locked"},
    "electronics_off": {"id": "elektronik masih menyala, sudah dimatikan petugas",
                        "en": "electronics were left on and were switched off by the guard"},
    "door_locked": {"id": "pintu tidak terkunci, sudah dikunci petugas",
                    "en": "the door was unlocked and was locked by the guard"},
    "problem": {"id": "ada masalah", "en": "a problem"},
}


def say(key: str, language: str, **values: object) -> str:
    texts = TEXTS[key]
    return texts.get(language, texts["id"]).format(**values)


def state_note(state: str, language: str) -> str:
    notes = STATE_NOTES[state]
    return notes.get(language, notes["id"])


def when(at: datetime, zone: ZoneInfo) -> str:
    """'04/12 22:00 WITA': date and time as the guard post reads them."""
    return f"{at.astimezone(zone):%d/%m %H:%M %Z}".strip()


def names(items: Iterable[Mapping[str, str]]) -> str:
    return ", ".join(item["name"] for item in items) or "-"
