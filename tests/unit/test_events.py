"""The event log's encoding and ordering rules (the Redis side is tested in integration)."""

from dashboard.events import Audience, Event, EventType, _fields, id_key, is_valid_id, parse_entry


def test_entries_round_trip_through_the_stream_fields() -> None:
    event = Event(type=EventType.TASK, data={"id": "a", "state": "QUEUED"}, owner_id=7)
    fields = {key.encode(): value.encode() for key, value in _fields(event).items()}
    parsed = parse_entry(b"1700000000000-3", fields)
    assert parsed.type == EventType.TASK and parsed.data == event.data
    assert parsed.owner_id == 7 and parsed.id == "1700000000000-3"


def test_an_event_without_owner_parses_as_none() -> None:
    parsed = parse_entry("1-0", _fields(Event(type=EventType.TASK, data={})))
    assert parsed.owner_id is None


def test_stream_ids_order_numerically() -> None:
    assert id_key("10-0") > id_key("9-5")
    assert id_key("9-10") > id_key("9-9")
    assert id_key("5") == (5, 0)


def test_malformed_ids_are_not_valid() -> None:
    assert is_valid_id("1700000000000-0")
    assert is_valid_id("5") and is_valid_id(f"{2**64 - 1}-{2**64 - 1}")
    # Each of these int() would take, and Redis refuse in the middle of a stream.
    for bad in ("", "abc", "1-x", "-", "1-2-3", "17-", "1_7-0", " 17-0", "17-0 ", f"{2**64}-0"):
        assert not is_valid_id(bad)


def test_visibility() -> None:
    mine = Event(type=EventType.TASK, data={}, owner_id=1)
    public = Event(type=EventType.HOST, data={}, public=True)
    assert mine.visible_to(Audience(1)) and not mine.visible_to(Audience(2))
    assert mine.visible_to(Audience(2, everyone=True))  # an admin's "all users" stream
    assert public.visible_to(Audience(2))


def test_only_my_own_final_task_events_are_toasts() -> None:
    ended = Event(type=EventType.TASK, data={"state": "FAILURE"}, owner_id=1)
    running = Event(type=EventType.TASK, data={"state": "PROGRESS"}, owner_id=1)
    assert ended.is_own_ending(Audience(1))
    assert not ended.is_own_ending(Audience(2, everyone=True))
    assert not running.is_own_ending(Audience(1))
