"""The daily digest: received by a local SMTP server (aiosmtpd), its figures
equal the journal's, the day is the operator's local day (23 or 25 hours when
the clocks change), and the scheduler sends it once at the configured time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from observe_support import CANARY_SECRET, Mailbox, make_bot, step, wait_for
from typer.testing import CliRunner

from bastion.cli import app
from bastion.config import parse_config
from bastion.observe.book import fill_of
from bastion.observe.digest import build_digest, day_window, next_send
from bastion.observe.journal import Journal, read_events
from bastion.observe.service import ObserveService
from bastion.observe.trades import round_trips

HOUR = 3_600_000


@pytest.mark.parametrize(
    ("tz", "day", "hours"),
    [
        ("Europe/Berlin", date(2026, 3, 29), 23),
        ("Europe/Berlin", date(2026, 10, 25), 25),
        ("America/New_York", date(2026, 3, 8), 23),
        ("America/New_York", date(2026, 11, 1), 25),
        ("Europe/Berlin", date(2026, 6, 1), 24),
        ("UTC", date(2026, 3, 29), 24),
    ],
)
def test_the_local_day_covers_23_or_25_hours_when_the_clocks_change(tz, day, hours):
    start, end = day_window(day, tz)
    assert end - start == hours * HOUR


def test_the_send_time_follows_the_local_clock_across_a_change():
    # 07:00 in Berlin: 06:00 UTC in winter, 05:00 UTC once summer time starts
    before = day_window(date(2026, 3, 28), "UTC")[0]
    first, covers = next_send(before, "Europe/Berlin", "07:00")
    assert first == before + 6 * HOUR and covers == date(2026, 3, 27)
    second, covers = next_send(first, "Europe/Berlin", "07:00")
    assert second == first + 23 * HOUR and covers == date(2026, 3, 28)


def test_a_dst_day_digest_counts_what_happened_in_its_23_hours(tmp_path):
    start, end = day_window(date(2026, 3, 29), "Europe/Berlin")
    with Journal(tmp_path / "journal.sqlite") as j:
        for ts in range(start - HOUR, end + HOUR, 2 * 60_000):
            j.append("cycle", ts, {"cycle": ts})
    d = build_digest(read_events(tmp_path), date(2026, 3, 29), "Europe/Berlin")
    assert d.hours == 23
    assert d.cycles == 23 * 30
    assert d.uptime_s == pytest.approx((23 * 30 - 1) * 120)


def _bot_config(folder: Path, box: Mailbox, **digest) -> Path:
    cfg = tmp = folder.parent / "bot.toml"
    cfg.write_text(
        f"""
name = "digest-test"
data_dir = "{folder}"
[observe.digest]
enabled = true
timezone = "UTC"
to = ["operator@example.test"]
smtp_port = {box.port}
security = "none"
{chr(10).join(f'{k} = "{v}"' for k, v in digest.items())}
""",
        encoding="utf-8",
    )
    return tmp


def _expected(folder: Path, day: date) -> dict[str, object]:
    start, end = day_window(day, "UTC")
    fills = [e for e in read_events(folder) if e["kind"] == "fill"]
    pairs = [(e["strategy"].split("@")[0], fill_of(e)) for e in fills]
    trips = [t for t in round_trips(pairs) if start <= t.exit_ts < end]
    return {
        "fills": len(fills),
        "pnl": sum((t.net_pnl for t in trips), Decimal(0)),
        "fees": sum((f.fee for _, f in pairs), Decimal(0)),
        "trips": len(trips),
    }


@pytest.mark.slow
def test_the_digest_of_a_trading_day_arrives_by_smtp_with_the_journals_figures(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("BASTION_LIVETEST_API_SECRET", CANARY_SECRET)
    box = Mailbox().start()
    folder = tmp_path / "bot"
    rig = make_bot(folder)
    try:
        step(rig, 4)
    finally:
        rig.close()
    # a secret that reached a halt's reason (an exception's text): the digest shows
    # the halt, masked
    from bastion.clock import wall_ms
    from bastion.engine.latch import change_latch
    from bastion.risk.latch import HaltState

    change_latch(folder, HaltState.HALTED, f"auth failed: {CANARY_SECRET}", "tester", wall_ms())
    try:
        cfg = _bot_config(folder, box)
        ts = next(read_events(folder))["ts"]
        day = datetime.fromtimestamp(ts / 1000, UTC).date()
        result = CliRunner().invoke(
            app, ["digest", "--config", str(cfg), "--date", day.isoformat(), "--send"]
        )
        assert result.exit_code == 0, result.output
        assert wait_for(lambda: box.messages, 10)
        msg = box.messages[0]
        want = _expected(folder, day)
        assert f"PnL {want['pnl']}" in str(msg["Subject"])
        text = msg.get_body(preferencelist=("plain",)).get_content()
        html = msg.get_body(preferencelist=("html",)).get_content()
        assert f"fills {want['fills']}, round trips closed {want['trips']}" in text
        assert f"realised PnL {want['pnl']} (net of fees), fees {want['fees']}" in text
        assert f"fills {want['fills']}, round trips closed {want['trips']}" in html
        assert f"scripted: trips {want['trips']}, win rate" in text  # the stats, by the same code
        assert "ACTIVE -> HALTED: auth failed: *** (by tester)" in text
        assert "auth failed: ***" in html
        assert CANARY_SECRET.encode() not in b"".join(box.raw)
    finally:
        box.stop()


def test_bad_input_is_one_line_and_a_non_zero_exit(tmp_path):
    box = Mailbox()
    box.port = 1
    cfg = _bot_config(tmp_path / "bot", box)
    r = CliRunner().invoke(app, ["digest", "--config", str(cfg), "--date", "2026-13-01"])
    assert r.exit_code == 2 and "expected YYYY-MM-DD" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(app, ["digest", "--config", str(cfg), "--date", "2026-01-01"])
    assert r.exit_code == 2 and "no journal" in r.output


def test_the_scheduler_sends_once_at_the_local_time(tmp_path):
    box = Mailbox().start()
    folder = tmp_path / "bot"
    with Journal(folder / "journal.sqlite") as j:
        j.append("cycle", day_window(date(2026, 3, 28), "Europe/Berlin")[0] + HOUR, {"cycle": 1})
    now = [day_window(date(2026, 3, 29), "Europe/Berlin")[0] + 5 * HOUR]  # 06:00 CEST (23 h day)
    cfg = parse_config(
        {"name": "sched", "observe": {"digest": {
            "enabled": True, "timezone": "Europe/Berlin", "send_at": "07:00",
            "to": ["op@example.test"], "smtp_port": box.port, "security": "none"}}}
    )  # fmt: skip
    service = ObserveService(cfg, folder, clock=lambda: now[0])
    service.digest_scheduler = None
    service.want_digest = True
    from bastion.observe.schedule import DigestScheduler

    service.digest_scheduler = DigestScheduler(service)
    try:
        service.step()
        assert not wait_for(lambda: box.messages, 0.5)
        now[0] += 2 * HOUR  # 08:00 local, summer time
        service.step()
        assert wait_for(lambda: box.messages, 10)
        assert "2026-03-28" in str(box.messages[0]["Subject"])
        assert wait_for(lambda: list(read_events(folder, kinds=["digest_sent"])), 5)
        again = ObserveService(cfg, folder, clock=lambda: now[0])
        sched = DigestScheduler(again)
        sched.due_ms, sched.day = now[0] - 1, date(2026, 3, 28)  # a restart, due again
        sched.tick(now[0])
        assert not wait_for(lambda: len(box.messages) > 1, 1.0)
    finally:
        service.stop()
        box.stop()


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    loopback = ipaddress.ip_address("127.0.0.1")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(loopback)]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    crt, pem = tmp_path / "server.crt", tmp_path / "server.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))  # fmt: skip
    return crt, pem


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_the_digest_goes_over_starttls_or_tls_with_credentials_from_the_environment(
    tmp_path, monkeypatch, security
):
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
    from observe_support import free_port

    from bastion.observe.mailer import MailError, build_message, send_mail

    crt, pem = _self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(crt, pem)
    got: list[bytes] = []
    logins: list[tuple[bytes, bytes]] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            got.append(envelope.content)
            return "250 OK"

    def auth(server, session, envelope, mechanism, data):
        logins.append((data.login, data.password))
        return AuthResult(success=(data.login, data.password) == (b"op", CANARY_SECRET.encode()))

    port = free_port()
    # implicit TLS: aiosmtpd does not see the wrapped socket as TLS, so AUTH is
    # allowed on it explicitly (it is TLS from the first byte).
    kw = (
        {"tls_context": ctx, "require_starttls": True, "auth_require_tls": True}
        if security == "starttls"
        else {"ssl_context": ctx, "auth_require_tls": False}
    )
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port, authenticator=auth, **kw)
    ctl.start()
    try:
        monkeypatch.setenv("BASTION_SMTP_USER", "op")
        monkeypatch.setenv("BASTION_SMTP_PASSWORD", CANARY_SECRET)
        digest = {"to": ["op@example.test"], "smtp_port": port, "security": security}
        cfg = parse_config({"observe": {"digest": {**digest, "ca_file": str(crt)}}}).observe.digest
        send_mail(cfg, build_message(cfg, "s", "text", "<p>html</p>"))
        assert len(got) == 1 and logins == [(b"op", CANARY_SECRET.encode())]
        assert CANARY_SECRET.encode() not in got[0]
        monkeypatch.setenv("BASTION_SMTP_PASSWORD", "wrong-password")
        with pytest.raises(MailError) as err:  # (aiosmtpd lets a refused LOGIN hang: short wait)
            send_mail(cfg, build_message(cfg, "s", "text", "<p>html</p>"), timeout_s=1.0)
        assert "wrong-password" not in str(err.value)
    finally:
        ctl.stop()
