"""The emulator's small parts alone: signing, weights, faults, scenarios, admin, CLI."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import ccxt
import pytest
from emulator_support import run, session

from bastion.emulator import (
    CCXT_OPTIONS,
    TEST_API_KEY,
    TEST_API_SECRET,
    Emulator,
    EmulatorConfig,
    EmulatorThread,
    FaultKind,
    FaultSpec,
    load_scenario,
    main,
    point_ccxt,
)
from bastion.emulator.errors import ApiError
from bastion.emulator.faults import FaultError, FaultPlan, drift, parse_faults
from bastion.emulator.run import build_config
from bastion.emulator.signing import sign, verify
from bastion.emulator.weights import WeightMeter, weight_of

KEYS = {"k": "s3cret"}
NOW = 1_700_000_000_000


def signed(query: str, *, secret: str = "s3cret") -> dict[str, Any]:
    params = dict(p.split("=") for p in query.split("&"))
    sig = sign(secret, query)
    return {
        "query": f"{query}&signature={sig}",
        "body": "",
        "params": {**params, "signature": sig},
        "headers": {"X-MBX-APIKEY": "k"},
        "keys": KEYS,
    }


# ------------------------------------------------------------------- signing
def test_valid_signature_over_query_and_body_is_accepted() -> None:
    query, body = "symbol=BTCUSDT", f"timestamp={NOW}&recvWindow=5000"
    sig = sign("s3cret", query + body)
    params = {"symbol": "BTCUSDT", "timestamp": str(NOW), "recvWindow": "5000", "signature": sig}

    key = verify(
        query=query, body=f"{body}&signature={sig}", params=params,
        headers={"X-MBX-APIKEY": "k"}, keys=KEYS, server_ms=NOW + 10,
    )  # fmt: skip

    assert key == "k"


@pytest.mark.parametrize(
    ("query", "server_ms", "secret", "code"),
    [
        (f"timestamp={NOW}", NOW, "other", -1022),
        (f"timestamp={NOW}", NOW + 5_001, "s3cret", -1021),
        (f"timestamp={NOW}", NOW - 1_001, "s3cret", -1021),
        (f"timestamp={NOW}&recvWindow=60001", NOW, "s3cret", -1131),
    ],
    ids=["wrong secret", "too old", "from the future", "window too wide"],
)
def test_signature_and_time_refusals(query: str, server_ms: int, secret: str, code: int) -> None:
    with pytest.raises(ApiError) as info:
        verify(**signed(query, secret=secret), server_ms=server_ms)

    assert info.value.code == code


def test_missing_signature_is_a_missing_parameter() -> None:
    with pytest.raises(ApiError) as info:
        verify(
            query=f"timestamp={NOW}", body="", params={"timestamp": str(NOW)},
            headers={"X-MBX-APIKEY": "k"}, keys=KEYS, server_ms=NOW,
        )  # fmt: skip

    assert info.value.code == -1102


# ------------------------------------------------------------------- weights
def test_weights_follow_binance_tables() -> None:
    assert weight_of("GET", "/api/v3/depth", {"limit": "100"}) == 5
    assert weight_of("GET", "/api/v3/depth", {"limit": "1000"}) == 50
    assert weight_of("GET", "/api/v3/depth", {"limit": "5000"}) == 250
    assert weight_of("GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"}) == 6
    assert weight_of("GET", "/api/v3/openOrders", {}) == 80
    assert weight_of("GET", "/api/v3/exchangeInfo", {}) == 20
    assert weight_of("POST", "/api/v3/order", {}) == 1


def test_meter_429_then_ban_then_a_new_minute_after_the_ban() -> None:
    meter = WeightMeter(limit=3, ban_s=10, strikes_before_ban=1)
    assert [meter.charge(1, NOW) for _ in range(3)] == [1, 2, 3]

    with pytest.raises(ApiError) as first:
        meter.charge(1, NOW)
    with pytest.raises(ApiError) as second:
        meter.charge(1, NOW + 1)

    assert (first.value.status, second.value.status) == (429, 418)
    assert meter.retry_after_s(NOW + 1) >= 10
    with pytest.raises(ApiError):
        meter.charge(1, NOW + 9_000)
    assert meter.charge(1, NOW + 120_000) == 1


# -------------------------------------------------------------------- faults
def test_fault_with_an_unknown_key_is_refused_with_its_name() -> None:
    with pytest.raises(FaultError, match=r"faults\[1\]\.stauts"):
        parse_faults([{"kind": "latency", "ms": 5}, {"kind": "http_error", "stauts": 500}])


def test_fault_kind_must_be_known() -> None:
    with pytest.raises(FaultError, match="kind"):
        parse_faults([{"kind": "meteor"}])


def test_fault_count_duration_and_scope() -> None:
    now = [0.0]
    plan = FaultPlan(lambda: now[0])
    plan.add(
        [
            FaultSpec(kind=FaultKind.HTTP_ERROR, path="/api/v3/order", method="POST", count=2),
            FaultSpec(kind=FaultKind.RATE_LIMIT, duration_s=5),
        ]
    )

    assert plan.take(FaultKind.HTTP_ERROR, path="/api/v3/order", method="GET") is None
    assert plan.take(FaultKind.HTTP_ERROR, path="/api/v3/order", method="POST") is not None
    assert plan.take(FaultKind.HTTP_ERROR, path="/api/v3/order", method="POST") is not None
    assert plan.take(FaultKind.HTTP_ERROR, path="/api/v3/order", method="POST") is None
    assert plan.take(FaultKind.RATE_LIMIT, path="/x") is not None
    plan.add([FaultSpec(kind=FaultKind.BAN, start_after_s=3, duration_s=2)])
    assert plan.take(FaultKind.BAN) is None
    now[0] = 3.5
    assert plan.take(FaultKind.BAN) is not None
    now[0] = 6.0
    assert plan.take(FaultKind.BAN) is None
    assert plan.take(FaultKind.RATE_LIMIT, path="/x") is None
    assert plan.active() == []


def test_clock_skew_is_a_state_not_used_up() -> None:
    plan = FaultPlan(lambda: 0.0)
    plan.add([FaultSpec(kind=FaultKind.CLOCK_SKEW, ms=-2500, count=1)])

    assert plan.skew_ms() == plan.skew_ms() == -2500


def test_drift_drops_and_sets_fields_in_every_element() -> None:
    spec = FaultSpec(kind=FaultKind.SCHEMA_DRIFT, drop_fields=("a",), set_fields={"c": None})

    assert drift([{"a": 1, "b": 2}, {"b": 3}], spec) == [{"b": 2, "c": None}, {"b": 3, "c": None}]


def test_scenarios_load_from_toml_and_json(tmp_path: Path) -> None:
    toml = tmp_path / "storm.toml"
    toml.write_text(
        '[balances]\nUSDT = "500"\n\n[[faults]]\nkind = "rate_limit"\ncount = 3\n'
        'path = "/api/v3/order"\n\n[[faults]]\nkind = "latency"\nms = 50\ndist = "normal"\n'
        "jitter_ms = 10\n"
    )
    js = tmp_path / "drift.json"
    js.write_text(json.dumps([{"kind": "schema_drift", "drop_fields": ["status"]}]))

    storm, drifted = load_scenario(toml), load_scenario(js)

    assert [f.kind for f in storm["faults"]] == [FaultKind.RATE_LIMIT, FaultKind.LATENCY]
    assert storm["balances"] == {"USDT": "500"}
    assert drifted["faults"][0].drop_fields == ("status",)
    config = build_config(scenario=toml, source="none")
    assert config.balances == {"USDT": Decimal("500")} and len(config.faults) == 2


def test_scenario_with_unknown_section_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[fautls]]\nkind = "ban"\n')

    with pytest.raises(FaultError, match="fautls"):
        load_scenario(bad)


# ---------------------------------------------------------------------- admin
def test_admin_faults_balances_manual_trades_and_order_log() -> None:
    async def body() -> None:
        async with session() as (emu, ex), aiohttp.ClientSession(emu.admin_url) as admin:
            await ex.load_markets()

            added = await (
                await admin.post("/faults", json={"kind": "http_error", "status": 502, "count": 1})
            ).json()
            listed = await (await admin.get("/faults")).json()
            with pytest.raises(ccxt.ExchangeNotAvailable):
                await ex.fetch_time()
            after = await (await admin.get("/faults")).json()
            bad = await admin.post("/faults", json={"kind": "ban", "colour": "red"})

            state = await (await admin.post("/balances", json={"USDT": "2500"})).json()
            manual = await (
                await admin.post(
                    "/manual_trade", json={"symbol": "BTC/USDT", "side": "SELL", "quantity": "0.5"}
                )
            ).json()
            adjusted = await (
                await admin.post(
                    "/manual_trade",
                    json={"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.25",
                          "mode": "adjust", "price": "1000"},
                )
            ).json()  # fmt: skip
            log = await (await admin.get("/orders", params={"clientOrderId": "web_1"})).json()
            mine = await ex.fetch_my_trades("BTC/USDT")

        assert added["ids"] == [1] and listed["faults"][0]["status"] == 502
        assert after["faults"] == []
        assert bad.status == 400 and "colour" in (await bad.text())
        assert state["balances"]["USDT"]["free"] == "2500.00000000"
        assert manual["status"] == "FILLED" and manual["clientOrderId"].startswith("web_")
        assert adjusted["balances"]["BTC"]["free"] == "0.75000000"
        assert [o["outcome"] for o in log["orders"]] == ["accepted"]
        assert [t["side"] for t in mine] == ["sell"]

    run(body)


def test_admin_pushes_market_events() -> None:
    async def body() -> None:
        async with (
            session(quoted=False) as (emu, ex),
            aiohttp.ClientSession(emu.admin_url) as admin,
        ):
            await admin.post(
                "/market/quote", json={"symbol": "ETH/USDT", "bid": "3000", "ask": "3001"}
            )
            await admin.post("/market/trade", json={"symbol": "ETHUSDT", "price": "3000.5"})

            ticker = await ex.fetch_ticker("ETH/USDT")

        assert (ticker["bid"], ticker["ask"], ticker["last"]) == (3000.0, 3001.0, 3000.5)

    run(body)


# ----------------------------------------------------------- thread and CLI
def test_thread_helper_serves_a_blocking_ccxt_client() -> None:
    with EmulatorThread(EmulatorConfig(source="synthetic", rate=50)) as emu:
        client = ccxt.binance(
            {
                "apiKey": TEST_API_KEY, "secret": TEST_API_SECRET, "enableRateLimit": False,
                "options": dict(CCXT_OPTIONS),
            }
        )  # fmt: skip
        point_ccxt(client, emu.url)
        client.load_markets()

        order = client.create_order(
            "ETH/USDT", "market", "sell", 0.5, params={"newClientOrderId": "sync-1"}
        )

        assert order["status"] == "closed" and order["clientOrderId"] == "sync-1"
        assert client.fetch_balance()["ETH"]["total"] == 9.5


def test_cli_refuses_bad_options_with_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--source", "/no/such/file.jsonl.gz", "--port", "0"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["--speed", "-1", "--port", "0"]) == 2


def test_config_is_checked_up_front() -> None:
    with pytest.raises(ValueError, match="source_paths"):
        Emulator(EmulatorConfig(source="files"))
    with pytest.raises(ValueError, match="expected synthetic"):
        Emulator(EmulatorConfig(source="parquet"))


def test_a_broken_recording_stops_the_source_loudly(tmp_path: Path) -> None:
    good = (
        '{"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":7,'
        '"p":"60000.1","q":"0.5","T":1,"m":true,"M":true}}'
    )
    path = tmp_path / "binance_spot_btcusdt_20990101.jsonl"
    path.write_text(f"1723161254087896568 {good}\n1723161254087896569 not-json\n")

    async def body() -> None:
        config = EmulatorConfig(source="files", source_paths=(path,), speed=0)
        async with session(config, quoted=False) as (emu, ex):
            await asyncio.wait_for(emu.market_done.wait(), 5)
            trades = await ex.fetch_trades("BTC/USDT")

            assert emu.market_error is not None
            assert [(t["id"], t["price"]) for t in trades] == [("7", 60000.1)]

    run(body)


def test_the_shipped_example_scenario_is_valid() -> None:
    import bastion.emulator

    example = Path(bastion.emulator.__file__).parent / "scenarios" / "flaky_exchange.toml"

    scenario = load_scenario(example)

    assert len(scenario["faults"]) == 6
    assert {f.kind for f in scenario["faults"]} >= {FaultKind.TIMEOUT_AFTER_ACCEPT}
