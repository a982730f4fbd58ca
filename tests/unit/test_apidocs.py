"""/openapi.json tells what each route answers besides success: codes, bodies, headers.

An integrator found it silent on most refusals (no 401 anywhere, no 429 nor 503 on task
starts, no error body described) and calling the event stream JSON. That they all come back as
described is tests/integration/test_schema.py's part; this is that they are described.
"""

from typing import Any

import pytest

from dashboard.app import create_app
from dashboard.settings import Settings

STARTS = ["/api/tasks/pi", "/api/tasks/demo", "/api/tasks/csv"]


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    state_dir = tmp_path_factory.mktemp("state")
    settings = Settings(state_dir=state_dir, redis_url="redis://127.0.0.1:1/0")
    return create_app(settings).openapi()


def answers(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return spec["paths"][path][method]["responses"]  # type: ignore[no-any-return]


def body_of(answer: dict[str, Any]) -> str:
    return str(answer["content"]["application/json"]["schema"]["$ref"]).rsplit("/", 1)[-1]


def test_the_event_stream_is_text_event_stream_not_json(spec: dict[str, Any]) -> None:
    assert list(answers(spec, "get", "/api/events")["200"]["content"]) == ["text/event-stream"]


@pytest.mark.parametrize("path", STARTS)
def test_a_start_lists_every_refusal_with_its_retry_after(spec: dict[str, Any], path: str) -> None:
    refusals = answers(spec, "post", path)
    assert {"401", "403", "409", "413", "415", "422", "429", "503"} <= set(refusals)
    for waits in ("409", "429", "503"):
        assert refusals[waits]["headers"]["Retry-After"]["required"] is True
    assert body_of(refusals["429"]) == "Problem"
    assert body_of(refusals["503"]) == "NotQueued"  # with the id of the task it recorded


def test_another_users_task_is_described_as_protected(spec: dict[str, Any]) -> None:
    assert body_of(answers(spec, "get", "/api/tasks/{task_id}")["403"]) == "ProtectedTask"
    protected = spec["components"]["schemas"]["ProtectedTask"]
    assert set(protected["required"]) == {"detail", "id", "state"}
    assert protected["properties"]["state"]["const"] == "PROTECTED"


def test_downloads_say_their_media_types_and_every_answer(spec: dict[str, Any]) -> None:
    download = answers(spec, "get", "/api/tasks/{task_id}/file")
    assert set(download["200"]["content"]) == {"text/csv", "text/plain"}
    assert set(answers(spec, "get", "/api/tasks/{task_id}/digits.txt")["200"]["content"]) == {
        "text/plain"
    }
    assert {"206", "401", "403", "404", "409", "410", "416"} <= set(download)
    assert "Retry-After" in download["409"]["headers"]


@pytest.mark.parametrize(
    ("method", "path", "codes"),
    [
        ("get", "/api/tasks", {"401", "403", "503"}),
        ("get", "/api/events", {"401", "403", "429", "503"}),
        ("get", "/api/me", {"401"}),
        ("get", "/api/tokens", {"401"}),
        ("delete", "/api/tokens/{token_id}", {"401", "404"}),
        ("get", "/api/processes", {"401", "403"}),
        ("post", "/api/processes/{name}/{action}", {"403", "404", "409"}),
        ("get", "/healthz", {"503"}),
    ],
)
def test_each_route_lists_its_refusals(
    spec: dict[str, Any], method: str, path: str, codes: set[str]
) -> None:
    assert codes <= set(answers(spec, method, path))


def test_every_refusal_has_a_described_body(spec: dict[str, Any]) -> None:
    """A 416 has none; a Range that cannot be read is said in plain text (Starlette's)."""
    undescribed = [
        (method, path, code)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for code, answer in operation["responses"].items()
        if int(code) >= 400 and code != "416" and not answer.get("content")
    ]
    assert undescribed == []


def test_every_operation_has_a_summary_written_for_readers(spec: dict[str, Any]) -> None:
    """FastAPI's default summary is the function's name in title case ("Create Csv Task")."""
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            generated = operation["operationId"].split("_" + path.split("/")[1])[0]
            default = generated.replace("_", " ").title()
            assert operation["summary"] != default, f"{method.upper()} {path}"
