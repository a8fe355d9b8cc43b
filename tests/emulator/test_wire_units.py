"""Unit tests of the wire layer that need no exchange core: signing, weights, faults, clock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.emulator import errors
from bot.emulator.auth import Credentials, sign, split_signature, verify_signed
from bot.emulator.clock import ClockError, EmulatorClock
from bot.emulator.faults import Fault, FaultConfig, FaultInjector
from bot.emulator.weights import LimiterConfig, WeightLimiter, request_weight

WIRE_LOG = Path("/work/shared/reference/ccxt-fixtures/captured-wire-log-ccxt-4.5.90.json")
CREDS = Credentials("key", "secret")


def _signed(payload: str, secret: str = "secret") -> str:
    return f"{payload}&signature={sign(secret, payload)}"


def test_valid_signature_returns_params_in_order() -> None:
    q = _signed("timestamp=1000&symbol=ORCAUSDT&limit=5&recvWindow=10000")
    params = verify_signed(q, "", "key", CREDS, now_ms=1500)
    assert params == {"timestamp": "1000", "symbol": "ORCAUSDT", "limit": "5", "recvWindow": "10000"}


def test_signature_is_checked_over_raw_encoded_text() -> None:
    # A re-encoding server would accept this; Binance (and we) sign the raw bytes.
    payload = "timestamp=1000&clientOrderId=a%2Fb&recvWindow=10000"
    tampered = payload.replace("%2F", "/") + "&signature=" + sign("secret", payload)
    with pytest.raises(errors.BinanceError) as exc:
        verify_signed(tampered, "", "key", CREDS, now_ms=1000)
    assert exc.value.code == -1022 and exc.value.http_status == 400


def test_body_and_query_are_concatenated_for_the_signature() -> None:
    query, body = "symbol=ORCAUSDT", "timestamp=1000&side=BUY"
    sig = sign("secret", query + body)
    params = verify_signed(query, f"{body}&signature={sig}", "key", CREDS, now_ms=1000)
    assert params["symbol"] == "ORCAUSDT" and params["side"] == "BUY"


@pytest.mark.parametrize(("key", "code", "status"), [(None, -2014, 401), ("", -2014, 401), ("other", -2015, 401)])
def test_api_key_errors(key: str | None, code: int, status: int) -> None:
    with pytest.raises(errors.BinanceError) as exc:
        verify_signed(_signed("timestamp=1000"), "", key, CREDS, now_ms=1000)
    assert (exc.value.code, exc.value.http_status) == (code, status)


def test_wrong_secret_is_1022_and_missing_signature_is_1102() -> None:
    with pytest.raises(errors.BinanceError) as exc:
        verify_signed(_signed("timestamp=1000", "nope"), "", "key", CREDS, now_ms=1000)
    assert exc.value.code == -1022
    with pytest.raises(errors.BinanceError) as exc:
        verify_signed("timestamp=1000", "", "key", CREDS, now_ms=1000)
    assert exc.value.code == -1102


@pytest.mark.parametrize(("ts", "now", "window", "ok"), [
    (10_000, 10_000, 5000, True),
    (5_000, 10_000, 5000, True),       # exactly now - recvWindow
    (4_999, 10_000, 5000, False),
    (11_000, 10_000, 5000, True),      # exactly now + 1000
    (11_001, 10_000, 5000, False),
])
def test_timestamp_window(ts: int, now: int, window: int, ok: bool) -> None:
    q = _signed(f"timestamp={ts}&recvWindow={window}")
    if ok:
        assert verify_signed(q, "", "key", CREDS, now_ms=now)["timestamp"] == str(ts)
    else:
        with pytest.raises(errors.BinanceError) as exc:
            verify_signed(q, "", "key", CREDS, now_ms=now)
        assert exc.value.code == -1021


def test_recv_window_above_60000_rejected() -> None:
    with pytest.raises(errors.BinanceError) as exc:
        verify_signed(_signed("timestamp=1000&recvWindow=60001"), "", "key", CREDS, now_ms=1000)
    assert exc.value.code == -1131


def test_captured_ccxt_signatures_verify_with_our_scheme() -> None:
    """Every private request ccxt 4.5.90 really sent verifies with our split-and-HMAC recipe."""
    if not WIRE_LOG.is_file():
        pytest.skip(f"reference wire log not available: {WIRE_LOG}")
    log = json.loads(WIRE_LOG.read_text())
    creds = Credentials("testkey", "testsecret")
    checked = 0
    for call in log.values():
        for req in call["requests"]:
            if req["sig_ok"] is None:
                continue
            raw = req["body"] or req["query"]
            ts = int(dict(p.split("=", 1) for p in split_signature(raw)[0].split("&"))["timestamp"])
            params = verify_signed(req["query"], req["body"], req["apikey"], creds, now_ms=ts)
            assert params["timestamp"] == str(ts)
            checked += 1
    assert checked == 36  # every signed request in the log (36 of the 56 calls' requests)


@given(st.dictionaries(st.sampled_from(["symbol", "side", "quantity", "price", "newClientOrderId"]),
                       st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1,
                               max_size=12), max_size=5))
def test_property_any_urlencoded_payload_round_trips(extra: dict[str, str]) -> None:
    from urllib.parse import quote, urlencode

    payload = urlencode({"timestamp": 1000, **extra, "recvWindow": 10000}, quote_via=quote)
    params = verify_signed(_signed(payload), "", "key", CREDS, now_ms=1000)
    assert {k: params[k] for k in extra} == extra


# -- weights ------------------------------------------------------------------------------------

def test_documented_weights() -> None:
    assert request_weight("GET", "/fapi/v1/depth", {"limit": "5"}) == 2
    assert request_weight("GET", "/fapi/v1/depth", {"limit": "1000"}) == 20
    assert request_weight("GET", "/fapi/v1/ticker/24hr", {"symbol": "X"}) == 1
    assert request_weight("GET", "/fapi/v1/ticker/24hr", {}) == 40
    assert request_weight("GET", "/fapi/v1/openOrders", {}) == 40
    assert request_weight("GET", "/fapi/v1/klines", {"limit": "1500"}) == 10
    assert request_weight("GET", "/fapi/v1/income", {}) == 30
    assert request_weight("GET", "/sapi/v1/margin/allPairs", {}) == 0


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_429_past_limit_then_window_rolls() -> None:
    now = FakeTime()
    lim = WeightLimiter(LimiterConfig(max_weight=10, ban_after_429s=3, ban_seconds=120), clock=now)
    assert lim.admit(6) == 6
    now.t += 10
    assert lim.admit(4) == 10
    with pytest.raises(errors.BinanceError) as exc:
        lim.admit(1)
    assert exc.value.http_status == 429 and exc.value.code == -1003
    assert exc.value.headers["Retry-After"] == "50"  # when the first 6 roll out
    now.t += 30
    with pytest.raises(errors.BinanceError):
        lim.admit(1)
    now.t += 20.001  # the first 6 have rolled out, the 4 have not
    assert lim.admit(5) == 9


def test_hammering_after_429_gets_418_ban() -> None:
    now = FakeTime()
    lim = WeightLimiter(LimiterConfig(max_weight=1, ban_after_429s=2, ban_seconds=120), clock=now)
    lim.admit(1)
    statuses = []
    for _ in range(4):
        with pytest.raises(errors.BinanceError) as exc:
            lim.admit(1)
        statuses.append(exc.value.http_status)
    assert statuses == [429, 429, 418, 418]
    assert int(exc.value.headers["Retry-After"]) == 120
    now.t += 121
    assert lim.admit(1) == 1  # the ban expired and the window rolled


# -- faults -------------------------------------------------------------------------------------

def test_faults_are_deterministic_per_seed() -> None:
    cfg = FaultConfig(p_5xx=0.2, p_429=0.2, p_timeout=0.1, p_drop_response=0.5, seed=42)
    a = FaultInjector(cfg)
    b = FaultInjector(FaultConfig(**{**cfg.__dict__}))
    seq_a = [a.draw("POST", "/fapi/v1/order") for _ in range(200)]
    seq_b = [b.draw("POST", "/fapi/v1/order") for _ in range(200)]
    assert seq_a == seq_b
    counts = {f: seq_a.count(f) for f in Fault}
    assert 20 <= counts[Fault.SERVER_ERROR] <= 60 and counts[Fault.DROP_RESPONSE] > 20


def test_drop_only_hits_order_endpoints_and_paths_filter() -> None:
    inj = FaultInjector(FaultConfig(p_drop_response=1.0, seed=1))
    assert inj.draw("GET", "/fapi/v1/time") is Fault.NONE
    assert inj.draw("POST", "/fapi/v1/order") is Fault.DROP_RESPONSE
    inj.update({"paths": ["/fapi/v1/algoOrder"]})
    assert inj.draw("POST", "/fapi/v1/order") is Fault.NONE


def test_fault_config_validation() -> None:
    inj = FaultInjector()
    with pytest.raises(ValueError, match="unknown fault setting"):
        inj.update({"p_boom": 1})
    with pytest.raises(ValueError, match="within"):
        inj.update({"p_5xx": 1.5})


# -- clock --------------------------------------------------------------------------------------

def test_clock_speed_step_and_no_going_back() -> None:
    wall = FakeTime()
    clock = EmulatorClock(1_000_000, speed=60, wall=wall)
    wall.t += 1.0
    assert clock.now_ms() == 1_060_000
    clock.set_speed(0)
    wall.t += 10
    assert clock.now_ms() == 1_060_000
    assert clock.step(5_000) == 1_065_000
    with pytest.raises(ClockError):
        clock.set(1_000)


def test_paused_clock_still_ticks_for_request_timestamps() -> None:
    wall = FakeTime()
    clock = EmulatorClock(1_000_000, speed=0, wall=wall)
    wall.t += 2.0
    assert clock.now_ms() == 1_000_000  # the market does not move
    assert clock.request_now_ms() == 1_002_000  # a synced client's signing clock does
    clock.step(3_600_000)
    assert clock.request_now_ms() == clock.now_ms() == 4_600_000
