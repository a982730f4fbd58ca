"""The web's one fleet loop, and the fleet as both streams and the page carry it."""

import json
from datetime import timedelta

from redis import Redis

from dashboard.events import Event, EventType
from dashboard.fleet import Fleet, fleet_of, redis_now, write_status
from dashboard.fleetwatcher import FleetWatcher
from dashboard.hub import EventHub
from dashboard.rendering import make_templates, render
from dashboard.streaming import format_json, html_formatter
from tests.factories import MOMENT
from tests.unit.test_fleet import status

TEMPLATES = make_templates()


def test_each_reading_is_kept_and_published_to_every_page(redis: Redis) -> None:
    write_status(redis, status("worker-1@build-01", reported_at=redis_now(redis)))
    published: list[Event] = []
    watcher = FleetWatcher(redis, published.append)
    fleet = watcher.take()
    assert watcher.latest == fleet
    (event,) = published
    assert event.type == EventType.FLEET and event.public and event.id is None
    assert Fleet.model_validate(event.data) == fleet
    assert [(w.name, w.online, w.running, w.done) for w in fleet.workers] == [
        ("worker-1@build-01", True, 1, 7)
    ]


def test_the_hub_keeps_the_latest_fleet_for_new_connections() -> None:
    hub = EventHub(redis=None, formatters={})  # type: ignore[arg-type]
    hub.publish(Event(type=EventType.FLEET, data={"n": 1}, public=True))
    hub.publish(Event(type=EventType.HOST, data={"n": 2}, public=True))
    hub.publish(Event(type=EventType.FLEET, data={"n": 3}, public=True))
    assert {kind: kept.event.data for kind, kept in hub.latest.items()} == {
        "fleet": {"n": 3},
        "host": {"n": 2},
    }


def fleet_event() -> Event:
    reports = [
        status("worker-1@build-01", reported_at=MOMENT, running=2, done=1234),
        status("<b>odd</b>@host", reported_at=MOMENT - timedelta(seconds=30)),
        status("worker-3@build-02", reported_at=MOMENT, stopped_at=MOMENT),
    ]
    fleet = fleet_of(reports, MOMENT + timedelta(seconds=1))
    return Event(type=EventType.FLEET, data=fleet.model_dump(mode="json"), public=True)


def test_the_page_stream_sends_the_rendered_fleet() -> None:
    (message,) = html_formatter(TEMPLATES)(fleet_event())
    assert message.event == "fleet" and message.id is None
    markup = str(message.data)
    assert markup.startswith('<section id="fleet"') and 'sse-swap="fleet"' in markup
    assert "1 online, 2 offline" in markup
    assert 'data-name="worker-1@build-01" data-online="true"' in markup
    assert 'data-name="worker-3@build-02" data-online="false"' in markup
    assert "prefork \u00d7 2" in markup and "1,234" in markup
    assert "silent 31.0 s" in markup and "stopped" in markup
    assert "<b>odd</b>" not in markup and "&lt;b&gt;odd&lt;/b&gt;" in markup
    # The counts are every user's: the panel says so, beside lists that are one user's.
    assert "Running and done count every user's tasks." in markup


def test_the_api_stream_sends_the_fleet_as_json() -> None:
    (message,) = format_json(fleet_event())
    assert message.event == "fleet"
    names = [worker["name"] for worker in json.loads(str(message.data))["workers"]]
    assert names == ["worker-1@build-01", "<b>odd</b>@host", "worker-3@build-02"]


def test_the_section_before_the_first_reading_and_with_no_workers() -> None:
    assert "reading the workers" in render(TEMPLATES, "partials/fleet.html", fleet=None)
    empty = render(TEMPLATES, "partials/fleet.html", fleet=Fleet(checked_at=MOMENT, workers=[]))
    assert "No worker has reported" in empty and "0 online" in empty
