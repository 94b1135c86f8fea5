"""The words of the daily security report: Indonesian (the default) and English."""
from __future__ import annotations

from datetime import date
from typing import Any

DAYS = {"id": ["Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"],
        "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]}
MONTHS = {"id": ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
                 "September", "Oktober", "November", "Desember"],
          "en": ["January", "February", "March", "April", "May", "June", "July", "August",
                 "September", "October", "November", "December"]}

T: dict[str, tuple[str, str]] = {
    # header
    "unit": ("Subbagian Keuangan, Umum dan Logistik - Satuan Pengamanan",
             "Finance, General Affairs and Logistics - Security Unit"),
    "title": ("LAPORAN KEAMANAN HARIAN", "DAILY SECURITY REPORT"),
    "day": ("Hari/Tanggal", "Day/Date"),
    "period": ("Periode", "Period"),
    "page": ("Halaman {n} dari {total}", "Page {n} of {total}"),
    "made": ("dibuat oleh posjaga {at}", "made by posjaga {at}"),
    "no_data": ("tidak ada data", "no data"),
    "none": ("tidak ada", "none"),
    "notice_incomplete": ("Data tidak lengkap", "Incomplete data"),
    "in_progress": ("Laporan sementara: hari ini belum berakhir (data sampai {at}).",
                    "Interim report: the day is not over (data up to {at})."),
    "unknown_cov": ("Catatan jalannya posjaga tidak ada untuk hari ini; kelengkapan data tidak "
                    "dapat dipastikan.", "posjaga left no record of running this day; the data "
                    "cannot be shown to be complete."),
    "gap": ("posjaga tidak berjalan {start} - {end} ({reason}); data periode ini tidak ada.",
            "posjaga was not running {start} - {end} ({reason}); no data for that time."),
    "gap_stopped": ("dihentikan", "stopped"),
    "gap_crash": ("berhenti mendadak", "crashed"),
    "gap_no_record": ("belum berjalan", "not yet running"),
    "missing_sections": ("Tanpa data: {names}.", "Without data: {names}."),
    # sections
    "s_summary": ("1. Ringkasan", "1. Summary"),
    "s_timeline": ("2. Linimasa Hari Ini", "2. Timeline of the Day"),
    "s_attendance": ("3. Jadwal Piket dan Kehadiran", "3. Duty Roster and Attendance"),
    "s_patrol": ("4. Patroli", "4. Patrol Rounds"),
    "s_guests": ("5. Buku Tamu", "5. Guest Book"),
    "s_equipment": ("6. Peralatan Keamanan", "6. Security Equipment"),
    "s_lamp_radio": ("7. Lampu Parkir dan Radio (HT)", "7. Parking Lamp and Radio (HT)"),
    "s_handovers": ("8. Serah Terima Jaga", "8. Duty Handovers"),
    "s_duty_log": ("9. Buku Mutasi", "9. Duty Log (Buku Mutasi)"),
    "s_alerts": ("10. Peringatan", "10. Alerts"),
    "s_devices": ("11. Gangguan Perangkat dan Pengiriman Data",
                  "11. Device Outages and Data Delivery"),
    # summary labels
    "f_late": ("Petugas terlambat", "Guards late"),
    "f_absent": ("Petugas tidak hadir", "Guards absent"),
    "f_left_early": ("Pulang lebih awal", "Left early"),
    "f_no_clock_out": ("Tidak absen pulang", "No clock-out"),
    "f_rounds": ("Patroli (lengkap/jadwal)", "Rounds (complete/due)"),
    "f_rounds_missed": ("Patroli terlewat/tidak lengkap", "Rounds missed/incomplete"),
    "f_checkpoints_missed": ("Titik patroli terlewat", "Checkpoints missed"),
    "f_findings": ("Temuan ruangan", "Room findings"),
    "f_guests": ("Tamu", "Guests"),
    "f_guests_inside": ("Tamu masih di dalam", "Guests still inside"),
    "f_equipment_checks": ("Pemeriksaan peralatan", "Equipment checks"),
    "f_equipment_alerts": ("Peringatan peralatan", "Equipment alerts"),
    "f_lamp": ("Lampu parkir menyala (jam)", "Parking lamp on (hours)"),
    "f_radio": ("Radio terima/kirim", "Radio received/sent"),
    "f_handovers": ("Serah terima jaga", "Handovers"),
    "f_duty_log": ("Catatan buku mutasi", "Duty-log entries"),
    "f_alerts": ("Peringatan", "Alerts"),
    "f_outages": ("Gangguan perangkat/layanan", "Device/service outages"),
    # timeline lanes
    "l_shift": ("Piket", "Shifts"),
    "l_patrol": ("Patroli", "Patrol"),
    "l_radio": ("Radio", "Radio"),
    "l_lamp": ("Lampu", "Lamp"),
    "l_guests": ("Tamu", "Guests"),
    "l_alerts": ("Peringatan", "Alerts"),
    "l_service": ("posjaga", "posjaga"),
    "legend": ("Hijau: patroli lengkap; oranye: terlambat; merah: terlewat/tidak lengkap; "
               "batang biru: jumlah transmisi radio per jam; abu-abu bergaris: posjaga tidak "
               "berjalan.",
               "Green: round complete; orange: late; red: missed/incomplete; blue bars: radio "
               "transmissions per hour; grey hatched: posjaga not running."),
    # columns
    "c_shift": ("Piket", "Shift"), "c_time": ("Waktu", "Time"), "c_guards": ("Petugas", "Guards"),
    "c_guard": ("Petugas", "Guard"), "c_outcome": ("Keterangan", "Outcome"),
    "c_punch": ("Jam absen", "Punch"), "c_minutes": ("Menit", "Minutes"),
    "c_due": ("Jadwal", "Due"), "c_result": ("Hasil", "Result"),
    "c_span": ("Mulai-selesai", "Start-end"), "c_missing": ("Titik terlewat", "Checkpoints missed"),
    "c_at": ("Jam", "Time"), "c_place": ("Titik/ruang", "Checkpoint/room"),
    "c_finding": ("Temuan", "Finding"), "c_badge": ("Kartu", "Badge"),
    "c_name": ("Nama", "Name"), "c_org": ("Instansi", "Organisation"),
    "c_purpose": ("Keperluan", "Purpose"), "c_host": ("Menemui", "Visiting"),
    "c_in": ("Masuk", "In"), "c_out": ("Keluar", "Out"), "c_code": ("Kode", "Code"),
    "c_item": ("Barang", "Item"), "c_location": ("Lokasi", "Location"),
    "c_condition": ("Kondisi", "Condition"), "c_next": ("Periksa berikut", "Next inspection"),
    "c_alerts": ("Peringatan", "Alerts"), "c_by": ("Oleh", "By"),
    "c_text": ("Uraian", "Entry"), "c_from": ("Dari", "From"), "c_to": ("Kepada", "To"),
    "c_via": ("Cara", "How"), "c_inside": ("Tamu di dalam", "Guests inside"),
    "c_open": ("Temuan terbuka", "Open findings"), "c_source": ("Sumber", "Source"),
    "c_device": ("Perangkat", "Device"), "c_detail": ("Keterangan", "Detail"),
    "c_duration": ("Lama", "Duration"),
    # outcomes and values
    "on_time": ("tepat waktu", "on time"), "late": ("terlambat", "late"),
    "absent": ("tidak hadir", "absent"), "left_early": ("pulang awal", "left early"),
    "no_clock_out": ("tidak absen pulang", "no clock-out"),
    "unscheduled": ("di luar jadwal", "unscheduled"), "double": ("absen ganda", "double"),
    "complete": ("lengkap", "complete"), "incomplete": ("tidak lengkap", "incomplete"),
    "missed": ("terlewat", "missed"), "late_suffix": (", terlambat", ", late"),
    "service_down": (" (posjaga mati)", " (posjaga down)"),
    "ok": ("baik", "good"), "broken": ("rusak", "broken"), "missing": ("hilang", "missing"),
    "unchecked": ("belum diperiksa", "not checked"),
    "secure": ("aman", "secure"), "electronics_off": ("elektronik dimatikan", "electronics off"),
    "door_locked": ("pintu dikunci", "door locked"), "problem": ("masalah", "problem"),
    "inside": ("masih di dalam", "still inside"), "purged": ("(data pribadi dihapus)",
                                                          "(personal data purged)"),
    "cli": ("petugas", "guard"), "scan": ("pindai kartu", "badge scan"),
    "fingerprint": ("sidik jari", "fingerprint"), "command": ("perintah", "command"),
    "inspection_overdue": ("pemeriksaan lewat", "inspection overdue"),
    "inspection_failed": ("gagal pemeriksaan", "failed inspection"),
    "checklist_missing": ("daftar periksa tidak diisi", "no checklist"),
    # section sentences
    "roster_none": ("Tidak ada jadwal piket yang disetujui untuk hari ini.",
                    "No approved duty roster covers this day."),
    "inside_at_end": ("Tamu masih di dalam pada akhir piket {shift}: {names}.",
                      "Guests still inside at the end of the {shift} shift: {names}."),
    "checks_missing": ("Piket tanpa daftar periksa peralatan: {names}.",
                       "Shifts without an equipment checklist: {names}."),
    "inspections": ("Pemeriksaan APAR", "Extinguisher inspections"),
    "inspection_row": ("{at} {item} ({location}) oleh {by}: manometer {pressure}, segel {seal}, "
                       "kedaluwarsa {expires}; {result}; berikutnya {next}.",
                       "{at} {item} ({location}) by {by}: gauge {pressure}, seal {seal}, "
                       "expires {expires}; {result}; next {next}."),
    "passed": ("lolos", "passed"), "failed": ("TIDAK LOLOS", "FAILED"),
    "lamp_line": ("Lampu parkir menyala {hours} jam, {switches} kali berganti keadaan{partial}.",
                  "The parking lamp was lit for {hours} hours, switched {switches} times"
                  "{partial}."),
    "lamp_partial": (" (sebagian: layanan lampu sempat mati)", " (partial: the lamp service was "
                     "down for a while)"),
    "radio_line": ("Radio (HT): {rx} transmisi diterima ({rxs} detik), {tx} dikirim ({txs} "
                   "detik){chatter}; {alerts} peringatan.",
                   "Radio (HT): {rx} transmissions received ({rxs} s), {tx} sent ({txs} s)"
                   "{chatter}; {alerts} alerts."),
    "chatter": (", {n} gangguan singkat", ", {n} kerchunks"),
    "handover_unconfirmed": ("{n} serah terima belum dikonfirmasi penerima.",
                             "{n} handovers not confirmed by the incoming guard."),
    "delivery": ("Pengiriman data: {events} kejadian, {unsent} belum terkirim ke server, {late} "
                 "terkirim terlambat (paling lama {delay}).",
                 "Data delivery: {events} events, {unsent} not yet delivered to the server, "
                 "{late} delivered late (longest {delay})."),
    "still_down": ("masih terputus", "still down"),
    # signatures
    "place_date": ("Palu, {date}", "Palu, {date}"),
    "sig_made": ("Dibuat oleh,", "Prepared by,"), "sig_checked": ("Diperiksa oleh,", "Checked by,"),
    "sig_known": ("Mengetahui,", "Acknowledged by,"),
    "role_danru": ("Danru", "Squad leader (Danru)"),
    "role_pj": ("Penanggung Jawab", "Person in charge"),
    "role_kasubag": ("Kasubag Umum dan Logistik", "Head of General Affairs & Logistics"),
}


def t(key: str, language: str, **values: Any) -> str:
    text = T[key][1 if language == "en" else 0]
    return text.format(**values) if values else text


def long_date(day: date, language: str) -> str:
    """'Jumat, 4 Desember 2026' / 'Friday, 4 December 2026'."""
    lang = "en" if language == "en" else "id"
    return f"{DAYS[lang][day.weekday()]}, {day.day} {MONTHS[lang][day.month - 1]} {day.year}"


def short_date(day: date, language: str) -> str:
    lang = "en" if language == "en" else "id"
    return f"{day.day} {MONTHS[lang][day.month - 1]} {day.year}"
