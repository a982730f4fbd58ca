"""What the JSON API answers besides success, as /openapi.json tells it: the bodies of its
refusals, and named sets of answers that each route lists in one line (`responses=`).

These models describe the bodies; they do not make them. dashboard.errors and the routes
do, and every refusal is a JSON object whose `detail` says what to do (422s list a detail per
field). The integration test of the schema fails on any status code a route answers that
its set leaves out.
"""

from typing import Any, Literal

from pydantic import BaseModel, Field

Answers = dict[int | str, dict[str, Any]]


class Problem(BaseModel):
    """A refusal, saying what went wrong and what to do about it."""

    detail: str


class ProtectedTask(Problem):
    """Another user's task: it exists, and it is not the asker's to read."""

    id: str
    state: Literal["PROTECTED"]


class NotQueued(Problem):
    """A start that could not be queued now."""

    id: str | None = Field(
        None,
        description="When the task was recorded before its queue refused it: its id (it "
        "ended FAILURE, saying why), so it is not taken for a task that started",
    )


def header(description: str, *, required: bool = True, kind: str = "integer") -> dict[str, Any]:
    return {"description": description, "required": required, "schema": {"type": kind}}


RETRY_AFTER = {"Retry-After": header("Seconds to wait before asking again")}
BEARER_CHALLENGE = {"WWW-Authenticate": header("`Bearer`", kind="string")}
# FastAPI's own 422 body (a detail per field), which it adds to the schema by itself for
# every route whose 422 is not worded here.
INVALID = {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}


def answer(
    description: str, model: type[BaseModel] = Problem, headers: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One documented answer: a JSON body of `model` (FastAPI names it in the schema)."""
    return {"description": description, "model": model} | ({"headers": headers} if headers else {})


def text(*media_types: str) -> dict[str, Any]:
    return {media_type: {"schema": {"type": "string"}} for media_type in media_types}


def invalid(description: str) -> dict[str, Any]:
    return {"description": description, "content": INVALID}


UNAVAILABLE = answer("The database or Redis cannot answer at the moment", headers=RETRY_AFTER)
NEEDS_LOGIN: Answers = {
    401: answer(
        "No login: no Bearer token nor session, or a token unknown, revoked or expired",
        headers=BEARER_CHALLENGE,
    ),
    503: UNAVAILABLE,
}
NO_CSRF = (
    "sent on the session cookie without its CSRF token, or from another site's page (a "
    "Bearer token needs none)"
)
# Routes that change something: CSRF is checked for a session cookie (dashboard.deps).
CHANGES: Answers = {**NEEDS_LOGIN, 403: answer(f"A change {NO_CSRF}")}
ADMIN_ONLY: Answers = {**NEEDS_LOGIN, 403: answer(f"Not an admin; or a change {NO_CSRF}")}
SCOPED: Answers = {**NEEDS_LOGIN, 403: answer("`scope=all` asked by someone not an admin")}
JSON_BODY: Answers = {
    413: answer("The body is larger than the server takes (MAX_BODY_BYTES, 64 KiB by default)"),
    415: answer("The body was not sent as JSON (`Content-Type: application/json`)"),
}

OTHERS_TASK = "The task belongs to another user"
NO_TASK = answer("No task has this id")
TASK: Answers = {
    **NEEDS_LOGIN,
    403: answer(f"{OTHERS_TASK} (state PROTECTED)", model=ProtectedTask),
    404: NO_TASK,
}
CANCEL: Answers = {
    **CHANGES,
    403: answer(f"{OTHERS_TASK}; or a change {NO_CSRF}"),
    404: NO_TASK,
    409: answer("The task has ended already"),
}
# What a start may meet besides its body's own faults; a retry starts a task too.
STARTED: Answers = {
    422: invalid("Invalid input, or an Idempotency-Key used for a different request"),
    429: answer(
        "The user holds as many tasks queued or running as allowed (USER_MAX_ACTIVE_TASKS)",
        headers=RETRY_AFTER,
    ),
    503: answer(
        "The task queue, the database or Redis cannot answer at the moment",
        model=NotQueued,
        headers=RETRY_AFTER,
    ),
}
START: Answers = {
    **CHANGES,
    **JSON_BODY,
    409: answer(
        "The first request with this Idempotency-Key is still being answered",
        headers=RETRY_AFTER,
    ),
    **STARTED,
}
RETRY: Answers = {
    **CANCEL,
    # Retry-After comes with the second reason only.
    409: answer(
        "Only a failed, cancelled or lost task can be retried; or the first request with "
        "this Idempotency-Key is still being answered (then with Retry-After)",
        headers={"Retry-After": header("Seconds to wait before asking again", required=False)},
    ),
    **STARTED,
}
STREAM: Answers = {
    **SCOPED,
    200: {
        "description": "Server-sent events, until the login ends or the server shuts down: "
        "`task` (data: a task's view), `host`, `fleet`, `ready` (the opening state has been sent), "
        "`login-ended` and `goodbye` (reconnect, naming the last event id)",
        "content": text("text/event-stream"),
    },
    429: answer(
        "The user holds as many event streams open on this server as allowed (USER_MAX_STREAMS)",
        headers=RETRY_AFTER,
    ),
}


def downloads(*media_types: str) -> Answers:
    """A finished task's file, whole or in parts (Range), or why not."""
    return {
        **TASK,
        200: {
            "description": "The file",
            "content": text(*media_types),
            "headers": {"Content-Disposition": header("`attachment` and its name", kind="string")},
        },
        206: {
            "description": "The ranges asked for (Range): one as the file's type, several as "
            "multipart/byteranges",
            "content": text(*media_types, "multipart/byteranges"),
        },
        304: {
            "description": "Unchanged: If-None-Match named this file's ETag",
            "headers": {"ETag": header("The file's ETag", kind="string")},
        },
        400: {"description": "A Range header that cannot be read", "content": text("text/plain")},
        403: answer(OTHERS_TASK),
        404: answer("No task has this id, or it made no such file"),
        409: answer("The task is still making its file", headers=RETRY_AFTER),
        410: answer("The file has expired and was deleted"),
        416: {
            "description": "A Range past the end of the file",
            "headers": {"Content-Range": header("`bytes */` and the file's size", kind="string")},
        },
    }
