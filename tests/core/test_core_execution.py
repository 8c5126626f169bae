"""Execution's pure parts: client order ids, the lifecycle table, the outcome table."""

from __future__ import annotations

import string

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.execution import IllegalTransition, OrderEvent, Outcome, classify, transition
from bastion.execution.ids import client_order_id, is_legal
from bastion.execution.lifecycle import TABLE
from bastion.model import OrderStatus as S
from bastion.venues import errors as e

LEGAL = set(string.ascii_letters + string.digits + "_-")

# Inputs as the engine produces them: a 6-hex-char run id, then numbers that
# fit the 36-char budget even at a cycle per millisecond for 89 years.
runs = st.text(alphabet="0123456789abcdef", min_size=6, max_size=6)
cycles = st.integers(min_value=0, max_value=36**8 - 1)
intents = st.integers(min_value=0, max_value=36**5 - 1)
legs = st.integers(min_value=0, max_value=36**3 - 1)
id_inputs = st.tuples(runs, cycles, intents, legs)


# ------------------------------------------------------------- client ids
def b36(n: int) -> str:
    return np.base_repr(n, 36).lower()


@settings(max_examples=300, deadline=None)
@given(id_inputs)
def test_client_order_id_is_pure_short_and_legal(args: tuple[str, int, int, int]) -> None:
    first = client_order_id(*args)

    second = client_order_id(*args)

    assert first == second
    assert 1 <= len(first) <= 36
    assert set(first) <= LEGAL
    assert is_legal(first)


@settings(max_examples=300, deadline=None)
@given(id_inputs, id_inputs)
def test_distinct_inputs_give_distinct_client_order_ids(
    a: tuple[str, int, int, int], b: tuple[str, int, int, int]
) -> None:
    if a == b:
        return

    assert client_order_id(*a) != client_order_id(*b)


def test_the_flatten_namespace_never_collides_with_strategy_ids() -> None:
    assert client_order_id("abc123", 5, 0, 0) != client_order_id("abc123", 5, 0, 0, prefix="bx")


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="0123456789abcdef", min_size=6, max_size=6),
    st.integers(min_value=0, max_value=2**128),
    st.integers(min_value=0, max_value=2**128),
    st.integers(min_value=0, max_value=2**128),
)
def test_a_client_order_id_that_would_be_too_long_is_refused_never_returned(
    run: str, cycle: int, intent: int, leg: int
) -> None:
    full = f"bn{run}-{b36(cycle)}-{b36(intent)}-{b36(leg)}"
    try:
        cid = client_order_id(run, cycle, intent, leg)
    except ValueError as exc:
        assert len(full) > 36
        assert "36" in str(exc)
    else:
        assert cid == full  # never shortened: a truncated id could name two orders
        assert len(cid) <= 36 and set(cid) <= LEGAL


def test_small_inputs_never_collide_across_field_boundaries() -> None:
    # e.g. (cycle 1, intent 36) and (cycle 37, intent 0) are "1"+"10" and "11"+"0"
    inputs = [(c, i, leg) for c in range(40) for i in range(40) for leg in range(3)]

    ids = {client_order_id("abc123", c, i, leg) for c, i, leg in inputs}

    assert len(ids) == len(inputs)


def test_negative_components_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        client_order_id("abc123", -1, 0, 0)


@pytest.mark.parametrize("bad", ["", "a" * 37, "has space", "dot.ted", "abc\n", "é"])
def test_is_legal_refuses_what_exchanges_refuse(bad: str) -> None:
    assert not is_legal(bad)


# -------------------------------------------------------------- lifecycle
TERMINAL = [s for s in S if s.terminal]


@pytest.mark.parametrize("state", TERMINAL)
@pytest.mark.parametrize("event", [OrderEvent.SUBMIT, OrderEvent.ACCEPTED])
def test_every_terminal_state_refuses_submit_and_accepted(state: S, event: OrderEvent) -> None:
    with pytest.raises(IllegalTransition) as info:
        transition("c1", state, event)

    assert (info.value.client_id, info.value.state, info.value.event) == ("c1", state, event)
    assert state.value in str(info.value) and event.value in str(info.value)


@pytest.mark.parametrize("state", TERMINAL)
def test_no_event_moves_a_terminal_order_to_another_state(state: S) -> None:
    reachable = {TABLE[(s, ev)] for (s, ev) in TABLE if s is state}

    assert reachable <= {state}


def test_only_a_new_order_can_be_submitted() -> None:
    assert [s for (s, ev) in TABLE if ev is OrderEvent.SUBMIT] == [S.NEW]


@pytest.mark.parametrize("state", [s for s in S if not s.terminal and s is not S.NEW])
def test_an_order_that_may_be_at_the_venue_can_never_be_submitted_again(state: S) -> None:
    with pytest.raises(IllegalTransition) as info:
        transition("c1", state, OrderEvent.SUBMIT)

    assert (info.value.state, info.value.event) == (state, OrderEvent.SUBMIT)


def test_a_fill_racing_a_cancel_stays_cancel_pending_until_the_venue_decides() -> None:
    state = transition("c1", S.OPEN, OrderEvent.CANCEL_REQUESTED)

    state = transition("c1", state, OrderEvent.PARTIALLY_FILLED)
    racing = state
    state = transition("c1", state, OrderEvent.FILLED)

    assert racing is S.CANCEL_PENDING
    assert state is S.FILLED


def test_a_cancel_that_wins_the_race_ends_cancelled() -> None:
    state = transition("c1", S.PARTIALLY_FILLED, OrderEvent.CANCEL_REQUESTED)

    state = transition("c1", state, OrderEvent.PARTIALLY_FILLED)
    state = transition("c1", state, OrderEvent.CANCELLED)

    assert state is S.CANCELLED


def test_unknown_outcome_is_only_left_on_the_venues_word() -> None:
    leaving = {ev for (s, ev), new in TABLE.items() if s is S.UNKNOWN and new is not S.UNKNOWN}

    assert OrderEvent.SUBMIT not in leaving
    assert leaving == {
        OrderEvent.ACCEPTED,
        OrderEvent.NOT_FOUND,
        OrderEvent.REJECTED,
        OrderEvent.PARTIALLY_FILLED,
        OrderEvent.FILLED,
        OrderEvent.CANCELLED,
        OrderEvent.EXPIRED,
    }


# --------------------------------------------------------------- outcomes
@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (e.InvalidOrder("price off"), Outcome.FAILED),
        (e.InsufficientFunds("broke"), Outcome.FAILED),
        (e.BadSymbol("XYZ"), Outcome.FAILED),
        (e.AuthenticationError("keys"), Outcome.FAILED),
        (e.RateLimited("slow down", retry_after_s=1.0), Outcome.FAILED_TRANSIENT),
        (e.VenueTimeout("no answer"), Outcome.UNKNOWN),
        (e.VenueUnavailable("502"), Outcome.UNKNOWN),
        (e.BadResponse("garbled"), Outcome.UNKNOWN),
        (e.DuplicateClientId("seen"), Outcome.LANDED),
        (e.VenueError("something else"), Outcome.UNKNOWN),
        (ConnectionResetError("reset"), Outcome.UNKNOWN),
        (KeyError("price"), Outcome.UNKNOWN),
        (ValueError("bad"), Outcome.UNKNOWN),
        (RuntimeError("?"), Outcome.UNKNOWN),
    ],
    ids=lambda x: type(x).__name__ if isinstance(x, BaseException) else str(x),
)
def test_classify(exc: BaseException, outcome: Outcome) -> None:
    assert classify(exc) is outcome


def test_a_subclass_of_a_definite_refusal_is_still_a_definite_refusal() -> None:
    class PostOnlyWouldCross(e.InvalidOrder):
        pass

    assert classify(PostOnlyWouldCross("x")) is Outcome.FAILED
