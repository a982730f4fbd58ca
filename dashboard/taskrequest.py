"""The worker's view of a task message that says whose task it is.

`enqueue` sends each task with an `owner_id` header. The worker's main process builds a
Request for every message it receives before Celery logs "Task ... received"; this Request
notes the owner then, so that line, logged where no SQL is at hand, names the user too
(dashboard.logcontext). A pool process reads the same header instead of asking SQL.
"""

from collections import OrderedDict
from typing import Any

from celery.worker.request import Request

OWNER_HEADER = "owner_id"
REMEMBERED = 10_000  # messages received and not yet logged about: far fewer in practice
_owners: OrderedDict[str, int] = OrderedDict()


class OwnedRequest(Request):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner = owner_in(self.request_dict.get(OWNER_HEADER))
        if owner is not None:
            remember_owner(str(self.id), owner)


def owner_in(value: Any) -> int | None:
    """The header's value, if it is a user id (a message from before it existed has none)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def remember_owner(task_id: str, owner: int) -> None:
    _owners[task_id] = owner
    while len(_owners) > REMEMBERED:
        _owners.popitem(last=False)


def owner_noted(task_id: str) -> int | None:
    return _owners.get(task_id)
