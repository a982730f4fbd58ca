"""The Finished list's filters: what its form sends, what the list then asks of SQL, and the
links (the next page, the address bar) that keep them.

A search term shorter than a trigram is kept as typed but not searched for: no index can
answer it, and reading a million rows for it would stall the list while someone types.
"""

from dataclasses import dataclass
from urllib.parse import urlencode

from dashboard.models import FINAL_STATES, TaskKind, TaskState
from dashboard.tasksearch import MIN_TERM


@dataclass(frozen=True)
class FinishedFilter:
    state: TaskState | None = None
    kind: TaskKind | None = None
    # The search box as typed; `search` is what is looked for.
    typed: str = ""

    @property
    def search(self) -> str:
        term = self.typed.strip()
        return term if len(term) >= MIN_TERM else ""

    @property
    def too_short(self) -> bool:
        return bool(self.typed.strip()) and not self.search

    @property
    def active(self) -> bool:
        return bool(self.state or self.kind or self.search)

    @property
    def states(self) -> tuple[TaskState, ...]:
        return (self.state,) if self.state else FINAL_STATES

    @property
    def kinds(self) -> tuple[TaskKind, ...]:
        return (self.kind,) if self.kind else ()

    def url(self, path: str, **extra: str | None) -> str:
        """`path` with these filters (and `extra`) as its query; empty values are left out."""
        values = {**extra, "state": self.state, "kind": self.kind, "q": self.typed}
        query = urlencode({name: value for name, value in values.items() if value})
        return f"{path}?{query}" if query else path
