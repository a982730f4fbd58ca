"""The per-process fan-out: visibility, one rendering per format, and slow clients dropped."""

import asyncio
from datetime import timedelta

import pytest
from sse_starlette import ServerSentEvent

from dashboard import hub as hub_module
from dashboard.events import Audience, Event, EventType
from dashboard.hub import (
    KEEP_ALIVE,
    ClientGone,
    EventHub,
    LoginEnded,
    ServerClosing,
    SubscriberOverflow,
)
from dashboard.models import utcnow
from tests import aio


def counting_formatter(calls: list[str]):  # type: ignore[no-untyped-def]
    def format_event(event: Event) -> list[ServerSentEvent]:
        calls.append(event.type)
        return [ServerSentEvent(data="x", event=event.type)]

    return format_event


ANYONE = Audience(user_id=1, everyone=True)


def make_hub(calls: list[str]) -> EventHub:
    return EventHub(redis=None, formatters={"html": counting_formatter(calls)})  # type: ignore[arg-type]


def test_each_event_is_rendered_once_however_many_connections() -> None:
    calls: list[str] = []
    hub = make_hub(calls)

    async def scenario() -> int:
        with (
            hub.subscribe(ANYONE) as one,
            hub.subscribe(ANYONE) as two,
            hub.subscribe(ANYONE) as three,
        ):
            hub.publish(Event(type=EventType.TASK, data={}, owner_id=None, id="1-0"))
            received = [await sub.next() for sub in (one, two, three)]
            for outgoing in received:
                outgoing.rendered("html")
            return len(received)

    assert aio.run(scenario()) == 3
    assert calls == ["task"]


def test_connections_receive_only_what_they_may_see() -> None:
    hub = make_hub([])

    async def scenario() -> tuple[list[str], list[str]]:
        with hub.subscribe(Audience(1)) as alice, hub.subscribe(Audience(2)) as bob:
            hub.publish(Event(type=EventType.TASK, data={"n": 1}, owner_id=1, id="1-0"))
            hub.publish(Event(type=EventType.TASK, data={"n": 2}, owner_id=2, id="2-0"))
            hub.publish(Event(type=EventType.HOST, data={}, public=True))
            got_alice = [(await alice.next()).event for _ in range(2)]
            got_bob = [(await bob.next()).event for _ in range(2)]
        return [e.id or e.type for e in got_alice], [e.id or e.type for e in got_bob]

    alice, bob = aio.run(scenario())
    assert alice == ["1-0", "host"] and bob == ["2-0", "host"]


def test_a_connection_that_falls_behind_ends_instead_of_blocking(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hub_module, "QUEUE_SIZE", 3)
    hub = make_hub([])

    async def scenario() -> int:
        delivered = 0
        with hub.subscribe(ANYONE) as slow:
            for number in range(10):
                hub.publish(Event(type=EventType.TASK, data={}, id=f"{number}-0"))
            with pytest.raises(SubscriberOverflow):
                for _ in range(10):
                    await slow.next()
                    delivered += 1
        return delivered

    assert aio.run(scenario()) == 3
    assert hub.connection_count == 0


def test_latest_host_sample_is_kept_for_new_connections() -> None:
    hub = make_hub([])
    hub.publish(Event(type=EventType.HOST, data={"n": 1}, public=True))
    hub.publish(Event(type=EventType.HOST, data={"n": 2}, public=True))
    assert hub.latest_host is not None and hub.latest_host.event.data == {"n": 2}


def test_closing_wakes_a_waiting_stream_and_ends_it() -> None:
    hub = make_hub([])

    async def scenario() -> None:
        with hub.subscribe(ANYONE) as subscription:
            waiting = asyncio.create_task(subscription.next())
            await asyncio.sleep(0)
            subscription.close()
            with pytest.raises(ServerClosing):
                await waiting
            hub.publish(Event(type=EventType.TASK, data={}, owner_id=None, id="1-0"))
            with pytest.raises(ServerClosing):  # closed for good, whatever arrives later
                await subscription.next()

    aio.run(scenario())


def test_a_client_hanging_up_ends_its_wait_and_is_forgotten() -> None:
    hub = make_hub([])

    async def scenario() -> None:
        subscription = hub.subscribe(ANYONE)
        waiting = asyncio.create_task(subscription.next())
        await asyncio.sleep(0)
        subscription.hang_up()
        with pytest.raises(ClientGone):
            await waiting

    aio.run(scenario())
    assert hub.connection_count == 0


def test_closing_the_hub_closes_every_stream_and_every_later_one() -> None:
    hub = make_hub([])

    async def scenario() -> None:
        with hub.subscribe(ANYONE) as before:
            hub.close_all()
            with pytest.raises(ServerClosing):
                await before.next()
            with hub.subscribe(ANYONE) as after, pytest.raises(ServerClosing):
                await after.next()

    aio.run(scenario())


def test_idle_streams_get_a_keep_alive_but_not_while_samples_flow() -> None:
    hub = make_hub([])

    async def scenario() -> tuple[list[object], list[object]]:
        with hub.subscribe(Audience(1)) as idle:
            keeping = asyncio.create_task(hub.keep_alive(0.2))
            await asyncio.sleep(0.3)
            first = []
            while idle._pending:
                first.append(await idle.next())
            # Host samples go to everyone: while they flow, no keep-alive is needed.
            for _ in range(6):
                hub.publish(Event(type=EventType.HOST, data={}, public=True))
                await asyncio.sleep(0.05)
            flowing = []
            while idle._pending:
                flowing.append(await idle.next())
            keeping.cancel()
        return first, flowing

    first, flowing = aio.run(scenario())
    assert first == [KEEP_ALIVE]
    assert len(flowing) == 6 and KEEP_ALIVE not in flowing


def test_a_login_that_ends_ends_its_streams_and_only_those() -> None:
    hub = make_hub([])

    async def scenario() -> None:
        with (
            hub.subscribe(Audience(1), "session:a") as laptop,
            hub.subscribe(Audience(1), "token:7") as script,
        ):
            hub.end_login("session:a")
            with pytest.raises(LoginEnded):
                await laptop.next()
            hub.publish(Event(type=EventType.TASK, data={}, owner_id=1, id="1-0"))
            assert (await script.next()).event.id == "1-0"  # another login of the same user

    aio.run(scenario())


def test_streams_end_when_their_session_expires() -> None:
    hub = make_hub([])
    now = utcnow()

    async def scenario() -> None:
        with (
            hub.subscribe(Audience(1), "session:a", now - timedelta(seconds=1)) as expired,
            hub.subscribe(Audience(1), "session:b", now + timedelta(hours=1)) as alive,
            hub.subscribe(Audience(1), "token:7") as token,
        ):
            checking = asyncio.create_task(hub.end_expired_logins(0.01))
            with pytest.raises(LoginEnded):
                await asyncio.wait_for(expired.next(), 5)
            checking.cancel()
            hub.publish(Event(type=EventType.TASK, data={}, owner_id=1, id="1-0"))
            assert (await alive.next()).event.id == "1-0"
            assert (await token.next()).event.id == "1-0"

    aio.run(scenario())


def test_no_stream_shows_a_login_ending() -> None:
    ended = Event(type=EventType.LOGIN_ENDED, data={"login": "session:a"}, owner_id=1)
    assert not ended.visible_to(Audience(1)) and not ended.visible_to(ANYONE)


def test_each_users_open_streams_are_counted_once_each() -> None:
    hub = make_hub([])
    ann, bob = Audience(user_id=1), Audience(user_id=2)

    async def scenario() -> None:
        with hub.subscribe(ann), hub.subscribe(ann):
            gone = hub.subscribe(ann)
            with hub.subscribe(bob):
                assert (hub.streams_of(1), hub.streams_of(2)) == (3, 1)
            gone.hang_up()
            gone.hang_up()  # its end reported twice counts once
            assert (hub.streams_of(1), hub.streams_of(2)) == (2, 0)
        assert hub.streams_of(1) == 0

    aio.run(scenario())
