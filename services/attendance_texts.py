"""What attendance tells people: one sentence per outcome and alert, Indonesian by default,
English when ``[site] language = "en"``."""
from __future__ import annotations

from typing import Any

TEXTS: dict[str, dict[str, str]] = {
    # shift outcomes
    "on_time": {
        "id": "{guard} absen masuk tepat waktu untuk piket {shift} {day} ({punch}).",
        "en": "{guard} clocked in on time for the {shift} shift of {day} ({punch}).",
    },
    "late": {
        "id": "{guard} terlambat {minutes} menit masuk piket {shift} {day} ({punch}).",
        "en": "{guard} clocked in {minutes} min late for the {shift} shift of {day} ({punch}).",
    },
    "absent": {
        "id": "{guard} tidak hadir: belum absen masuk piket {shift} {day} sampai {deadline}.",
        "en": "{guard} is absent: no clock-in for the {shift} shift of {day} by {deadline}.",
    },
    "left_early": {
        "id": "{guard} pulang {minutes} menit sebelum piket {shift} {day} berakhir ({punch}).",
        "en": "{guard} left {minutes} min before the end of the {shift} shift of {day} "
              "({punch}).",
    },
    "no_clock_out": {
        "id": "{guard} tidak absen pulang setelah piket {shift} {day} (ditunggu sampai "
              "{deadline}).",
        "en": "{guard} did not clock out after the {shift} shift of {day} (waited until "
              "{deadline}).",
    },
    "unscheduled": {
        "id": "{guard} absen pada {punch} di luar jadwal piket.",
        "en": "{guard} punched at {punch} outside any rostered shift.",
    },
    "double": {
        "id": "{guard} absen dua kali berturut-turut ({punch}); yang kedua diabaikan.",
        "en": "{guard} punched twice in a row ({punch}); the second is ignored.",
    },
    # alerts
    "clock_skew": {
        "id": "Jam mesin sidik jari {device} selisih {skew} dari jam Pi; setel jam mesin.",
        "en": "The clock of fingerprint machine {device} is {skew} off the Pi's; set the "
              "machine's clock.",
    },
    "clock_reset": {
        "id": "Jam mesin sidik jari {device} mundur ke {device_time} (baterai jam habis?); "
              "absen sesudahnya tidak dipercaya sampai jam disetel.",
        "en": "The clock of fingerprint machine {device} went back to {device_time} (flat "
              "clock battery?); punches after it are not trusted until the clock is set.",
    },
    "untrusted_punches": {
        "id": "{count} absen dari mesin {device} bertanggal mundur (jam direset) atau di masa "
              "depan; tidak dipakai untuk kehadiran.",
        "en": "{count} punches from machine {device} are dated backwards (clock reset) or in "
              "the future; they are not used for attendance.",
    },
    "unknown_user": {
        "id": "{count} absen dari mesin {device} oleh ID pengguna yang tidak terdaftar: "
              "{user_ids}.",
        "en": "{count} punches from machine {device} by user ids not enrolled on it: "
              "{user_ids}.",
    },
    "malformed_records": {
        "id": "{count} catatan rusak di log mesin {device} dilewati.",
        "en": "{count} unreadable records in the log of machine {device} were skipped.",
    },
    "log_cleared": {
        "id": "Log absensi mesin {device} dihapus atau ditulis ulang sejak penarikan terakhir.",
        "en": "The attendance log of machine {device} was cleared or rewritten since the last "
              "pull.",
    },
    "device_auth": {
        "id": "Mesin sidik jari {address} menolak kata sandi komunikasi; periksa password di "
              "[attendance].",
        "en": "Fingerprint machine {address} refused the communication password; check "
              "password in [attendance].",
    },
}


def text(key: str, language: str, **values: Any) -> str:
    templates = TEXTS[key]
    return templates.get(language, templates["id"]).format(**values)


def duration(seconds: float, language: str) -> str:
    """A skew such as '5 menit 12 detik lebih cepat' / '5 min 12 s ahead'."""
    whole = int(round(abs(seconds)))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if language == "en":
        parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else "",
                 f"{secs} s" if secs or not whole else ""]
        side = "ahead" if seconds > 0 else "behind"
    else:
        parts = [f"{hours} jam" if hours else "", f"{minutes} menit" if minutes else "",
                 f"{secs} detik" if secs or not whole else ""]
        side = "lebih cepat" if seconds > 0 else "lebih lambat"
    return " ".join(p for p in parts if p) + f" {side}"
