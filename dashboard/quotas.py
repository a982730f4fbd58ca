"""What one user may hold at once, so that one account cannot crowd out the others.

- Tasks: a start is refused while its owner has `USER_MAX_ACTIVE_TASKS` tasks queued or
  running. A security probe queued work from one ordinary account that kept everyone else's
  waiting, and nothing stopped it queueing thousands. Two starts at the same moment may both
  pass the count, so the limit can be passed by a task or two; it bounds a flood, not an
  exact number.
- Event streams: at most `USER_MAX_STREAMS` open on one web process (each costs about 20 KB;
  the probe opened 500 from one account).

Past a limit the answer is 429 with Retry-After (dashboard.errors), whatever asked.
"""

from sqlalchemy import Engine
from sqlmodel import Session

from dashboard import crud
from dashboard.hub import EventHub


class LimitReached(RuntimeError):
    """The user holds as much of something as allowed; the message says what to do."""


class TooManyActive(LimitReached):
    """The owner has as many tasks queued or running as allowed."""

    def __init__(self, limit: int) -> None:
        tasks, some = ("task", "it") if limit == 1 else ("tasks", "some")
        super().__init__(
            f"you have {limit} {tasks} queued or running, the most allowed at once; "
            f"wait for {some} to end, or cancel {some}"
        )
        self.limit = limit


def check_active(engine: Engine, owner_id: int | None, limit: int) -> None:
    """Raises TooManyActive when `owner_id` may start nothing more now."""
    if owner_id is None:  # tasks without an owner come from the system itself, not a user
        return
    with Session(engine) as session:
        if crud.count_active(session, owner_id=owner_id, up_to=limit) >= limit:
            raise TooManyActive(limit)


def check_streams(hub: EventHub, user_id: int, limit: int) -> None:
    """Raises LimitReached when the user may open no more streams on this process."""
    if hub.streams_of(user_id) >= limit:
        raise LimitReached(
            f"you have {limit} event streams open here, the most allowed; close some"
        )
