"""What the guest book, the equipment checks, the handover and the duty log tell people:
Indonesian by default, English with ``language = "en"``."""
from __future__ import annotations

from typing import Any

TEXTS: dict[str, dict[str, str]] = {
    "guest_no": {"id": "Tamu #{n}", "en": "Guest #{n}"},
    "guest.signed_in": {"id": "{guest} masuk dengan kartu tamu {badge}, menemui {host}.",
                        "en": "{guest} signed in with badge {badge} to see {host}."},
    "guest.signed_out": {"id": "{guest} keluar ({via}), kartu tamu {badge}.",
                         "en": "{guest} signed out ({via}), badge {badge}."},
    "via_cli": {"id": "dicatat petugas", "en": "by the guard"},
    "via_scan": {"id": "kartu dipindai", "en": "badge scanned"},
    "via_command": {"id": "perintah MQTT", "en": "MQTT command"},
    "via_fingerprint": {"id": "sidik jari", "en": "fingerprint"},
    "ok": {"id": "baik", "en": "good"},
    "broken": {"id": "rusak", "en": "broken"},
    "missing": {"id": "hilang", "en": "missing"},
    "unchecked": {"id": "belum diperiksa", "en": "not checked"},
    "check_ok": {"id": "{by} memeriksa {count} peralatan: semua baik.",
                 "en": "{by} checked {count} items: all good."},
    "check_bad": {"id": "{by} memeriksa {count} peralatan: {items}.",
                  "en": "{by} checked {count} items: {items}."},
    "inspection_ok": {"id": "Pemeriksaan {item} oleh {by}: baik.",
                      "en": "Extinguisher {item} inspected by {by}: passed."},
    "inspection_bad": {"id": "Pemeriksaan {item} oleh {by}: {problems}.",
                       "en": "Extinguisher {item} inspected by {by}: {problems}."},
    "pressure_low": {"id": "tekanan kurang", "en": "pressure low"},
    "pressure_high": {"id": "tekanan berlebih", "en": "pressure too high"},
    "seal_broken": {"id": "segel rusak", "en": "seal broken"},
    "expired": {"id": "kedaluwarsa", "en": "expired"},
    "handover": {"id": "Serah terima jaga dari {outgoing} kepada {incoming}; {inside} tamu masih "
                       "di dalam, {problems} temuan terbuka.",
                 "en": "Duty handed over from {outgoing} to {incoming}; {inside} guests still "
                       "inside, {problems} open findings."},
    "system.started": {"id": "posjaga mulai berjalan ({detail}).",
                       "en": "posjaga started ({detail})."},
    "system.stopped": {"id": "posjaga berhenti ({detail}).", "en": "posjaga stopped ({detail})."},
    "round_complete": {"id": "Patroli pukul {due}{guard}: lengkap.",
                       "en": "Patrol round of {due}{guard}: complete."},
    "round_incomplete": {"id": "Patroli pukul {due}{guard} tidak lengkap; terlewat: {missing}.",
                         "en": "Patrol round of {due}{guard} incomplete; missed: {missing}."},
    "round_missed": {"id": "Patroli pukul {due} tidak dilaksanakan.",
                     "en": "The patrol round of {due} was missed."},
    "round_by": {"id": " oleh {guard}", "en": " by {guard}"},
    # equipment alerts
    "alert_broken": {"id": "{name} ({item}) dilaporkan RUSAK{note}: perbaiki atau ganti.",
                     "en": "{name} ({item}) reported BROKEN{note}: repair or replace it."},
    "alert_missing": {"id": "{name} ({item}) dilaporkan HILANG{note}: laporkan kepada Danru.",
                      "en": "{name} ({item}) reported MISSING{note}: tell the Danru."},
    "alert_inspection_failed": {
        "id": "{name} ({item}, {location}) tidak lolos pemeriksaan: {problems}.",
        "en": "Extinguisher {name} ({item}, {location}) failed its inspection: {problems}."},
    "alert_inspection_overdue": {
        "id": "Pemeriksaan {name} ({item}, {location}) lewat jatuh tempo {due}.",
        "en": "The inspection of extinguisher {name} ({item}, {location}) was due on {due}."},
    "alert_checklist_missing": {
        "id": "Daftar periksa peralatan keamanan untuk piket {shift} tidak diisi.",
        "en": "No security-equipment checklist was recorded for the {shift} shift."},
}


def say(key: str, language: str, **values: Any) -> str:
    texts = TEXTS[key]
    return texts.get(language, texts["id"]).format(**values)
