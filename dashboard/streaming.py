"""Server-sent event streams: a snapshot or a replay of what was missed, then the live log.

A new connection first gets the current state (a snapshot); a reconnecting one that names
the last event it saw (Last-Event-ID, or `?last_event_id=` because the htmx SSE extension
reconnects without the header) gets exactly the events after it from the log, then live ones,
with no duplicates: the subscription starts before the replay, and queued events the replay
already covered are skipped by id.
"""

import json
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi.templating import Jinja2Templates
from sse_starlette import ServerSentEvent

from dashboard import events, metrics
from dashboard.events import Audience, Event, EventType
from dashboard.fleet import Fleet
from dashboard.hoststats import HostSnapshot
from dashboard.hub import (
    ClientGone,
    EventHub,
    LoginEnded,
    Outgoing,
    ServerClosing,
    SubscriberOverflow,
    Subscription,
)
from dashboard.models import TaskView
from dashboard.rendering import render

HTML = "html"
JSON = "json"
# The page's "your task finished" notice; sent only on the task owner's own streams.
TOAST = "toast"
REPLAY_BATCH = 1000

Snapshot = Callable[[], Awaitable[list[ServerSentEvent]]]
# What a stream yields: a message of its own, or the shared bytes of a broadcast event.
Chunk = ServerSentEvent | bytes


def html_formatter(templates: Jinja2Templates) -> Callable[[Event], list[ServerSentEvent]]:
    def format_html(event: Event) -> list[ServerSentEvent]:
        if event.type == EventType.HOST:
            host = HostSnapshot.model_validate(event.data)
            html = render(templates, "partials/host_gauges.html", host=host)
            return [ServerSentEvent(data=html, event="host")]
        if event.type == EventType.FLEET:
            fleet = Fleet.model_validate(event.data)
            html = render(templates, "partials/fleet.html", fleet=fleet)
            return [ServerSentEvent(data=html, event="fleet")]
        task = TaskView.model_validate(event.data)
        html = render(templates, "partials/task_event.html", task=task)
        return [ServerSentEvent(data=html, event="task", id=event.id)]

    return format_html


def toast_formatter(templates: Jinja2Templates) -> Callable[[Event], list[ServerSentEvent]]:
    def format_toast(event: Event) -> list[ServerSentEvent]:
        task = TaskView.model_validate(event.data)
        html = render(templates, "partials/toast.html", task=task)
        return [ServerSentEvent(data=html, event="toast")]

    return format_toast


def format_json(event: Event) -> list[ServerSentEvent]:
    return [ServerSentEvent(data=json.dumps(event.data), event=event.type, id=event.id)]


# The last message of a stream whose server shuts down: reconnect in a second (EventSource
# and htmx do by themselves), naming the last event id, to another replica or this one again.
GOODBYE = ServerSentEvent(data="{}", event="goodbye", retry=1000)
# The last message of a stream whose login has ended: a reconnect is refused with 401 (the page
# then goes to its login form).
LOGIN_ENDED = ServerSentEvent(data="{}", event="login-ended")


class _Position:
    """The newest log entry a connection has covered, so live events it already has are skipped."""

    def __init__(self, entry_id: str) -> None:
        self.entry_id = entry_id

    def covers(self, entry_id: str | None) -> bool:
        return entry_id is not None and events.id_key(entry_id) <= events.id_key(self.entry_id)


async def event_stream(
    hub: EventHub,
    subscription: Subscription,
    *,
    format_name: str,
    resume_from: str | None,
    snapshot: Snapshot,
) -> AsyncIterator[Chunk]:
    """`subscription` is the connection's, taken before the stream starts: nothing published
    during the opening can fall between the two. Its response ends it (`hang_up`)."""
    audience = subscription.audience
    position = _Position(hub.position)
    if resume_from and await events.can_resume_from(hub.redis, resume_from):
        position.entry_id = resume_from
        async for event in _replay(hub, resume_from, audience):
            position.entry_id = event.id or position.entry_id
            for missed in _messages(Outgoing(event, hub.formatters), format_name, audience):
                yield missed
    else:
        for opening in _resumable(await snapshot(), position.entry_id):
            yield opening
    for latest in list(hub.latest.values()):
        yield latest.encoded(format_name)
    async for chunk in _live(subscription, position, format_name):
        yield chunk


def _resumable(messages: list[ServerSentEvent], entry_id: str) -> list[ServerSentEvent]:
    """The snapshot's last message carries the log position it reflects, so a client that
    drops before any task event still resumes from there instead of taking a new snapshot
    (and missing what ended in between)."""
    if messages and events.is_valid_id(entry_id) and entry_id != "0-0":
        messages[-1].id = entry_id
    return messages


def _messages(outgoing: Outgoing, format_name: str, audience: Audience) -> list[bytes]:
    """The event in this stream's format, and on the page a toast when my own task ended."""
    messages = [outgoing.encoded(format_name)]
    if format_name == HTML and outgoing.event.is_own_ending(audience):
        messages.append(outgoing.encoded(TOAST))
    return messages


async def _live(
    subscription: Subscription, position: _Position, format_name: str
) -> AsyncIterator[Chunk]:
    try:
        while True:
            outgoing = await subscription.next()
            if isinstance(outgoing, bytes):
                yield outgoing  # a keep-alive
                continue
            if position.covers(outgoing.event.id):
                continue
            for message in _messages(outgoing, format_name, subscription.audience):
                yield message
            # The stream asks for more only once it has sent what it got: this one is delivered.
            # Replays are not timed: their lag is how long the client was away.
            metrics.observe_delivery(outgoing.event.id)
    except SubscriberOverflow:
        return  # the client reconnects and resumes from its last event id
    except ClientGone:
        return
    except ServerClosing:
        yield GOODBYE
    except LoginEnded:
        yield LOGIN_ENDED


async def _replay(hub: EventHub, after_id: str, audience: Audience) -> AsyncIterator[Event]:
    while True:
        batch = await events.read_after(hub.redis, after_id, count=REPLAY_BATCH)
        for event in batch:
            if event.visible_to(audience):
                yield event
        if len(batch) < REPLAY_BATCH:
            return
        after_id = batch[-1].id or after_id
