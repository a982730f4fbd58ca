"""What the search box finds: tasks by id, or by text in their parameters or error.

A term that could be a task id (letters, digits, `-` and `_`) finds the task with that id,
and one of 8 characters or more also the tasks whose id begins with it. Only when it names
none of the viewer's tasks is it read as text: a case-insensitive substring of the
parameters as the lists show them (`params_text`, dashboard.descriptions) or of the error.

The page wants the newest matches among up to a million rows within 100 ms.

- An id is looked up in an index: on SQLite the id's own (a range: its LIKE ignores case and
  cannot use it); on PostgreSQL a varchar_pattern_ops index (migration 0004) for
  `LIKE 'prefix%'`, as a plain range would follow the collation, in which `-` may not count.
- PostgreSQL answers text with `ILIKE '%term%'`; its planner, which keeps statistics, looks a
  rare term up in the pg_trgm GIN indexes and finds a common one by reading the list in order.
- SQLite's planner has no statistics here, so the choice is made in code. A common term is
  found among the newest PROBE_ROWS rows of the list, tested one by one. Failing that, the
  FTS5 trigram table `task_search` names the rows that hold the term; when they are few
  (MOST_HITS at most), only they are read and sorted. When they are many, the term is common
  after all (in others' tasks, or in older ones) and the list is read in order until a page
  is found: fast, unless the list holds few of them, e.g. "chudnovsky" with kind=demo.

Whatever comes back from an index is read through a subquery with a LIMIT, which keeps the
database from merging it into the list's query, where its planner would rather walk the list's
own index and test every row. On SQLite, LIKE (the newest rows) ignores the case of ASCII
letters only, where the trigram index folds every letter.
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, literal_column, or_, text
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from dashboard.models import Task

MAX_TERM = 200
MIN_TERM = 3  # a trigram: no index can say anything about a shorter term
MIN_ID_PREFIX = 8
MAX_ID = 64
PROBE_ROWS = 250
MOST_HITS = 5000
SEARCH_TABLE = "task_search"
# Made by migrations 0004 and 0006 by hand, per database; not in the models, so not compared.
UNMODELLED_INDEXES = frozenset(
    {"ix_task_params_text_trgm", "ix_task_error_trgm", "ix_task_id_pattern"}
)
_ID_CHARACTERS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_")


# Builds a list's select (its filters, cursor and order, newest first) over Task or over an
# alias of it: a search narrows what the list is read from, then the list is built on that.
Listing = Callable[[Any], Any]


def could_be_an_id(term: str) -> bool:
    return 0 < len(term) <= MAX_ID and set(term) <= _ID_CHARACTERS


def find(
    session: Session, listing: Listing, term: str, *, owner_id: int | None, count: int
) -> list[Task]:
    """The first `count` tasks of the list that `term` finds."""
    by_id = _named_by_id(session, listing, term, owner_id)
    if by_id is None and term != term.lower():  # ids are made in lower case, typed in any
        by_id = _named_by_id(session, listing, term.lower(), owner_id)
    if by_id is not None:
        return _first(session, by_id, count)
    if _dialect(session) == "postgresql":  # its planner weighs the trigram index itself
        return _first(session, listing(Task).where(matching_text(term, "postgresql", Task)), count)
    probed = _probe(session, listing, term, count)
    if probed is not None:
        return probed
    return _first(session, _sqlite_text_matches(session, listing, term), count)


def _first(session: Session, query: Any, count: int) -> list[Task]:
    return list(session.exec(query.limit(count)))


def _among(tasks: Any) -> Any:
    """The tasks a select names, as something a list can be read from. Its LIMIT keeps the
    database from merging it into the list's query, whose indexes would win the plan."""
    return aliased(Task, tasks.limit(MOST_HITS + 1).subquery())


def _named_by_id(session: Session, listing: Listing, term: str, owner_id: int | None) -> Any | None:
    """The list narrowed to the tasks whose id is or begins with the term, if any of them is
    the viewer's; None when the term names none (it is then read as text)."""
    if not could_be_an_id(term):
        return None
    prefix = id_prefix(term, _dialect(session))
    named = _among(select(Task).where(prefix))
    owners = session.exec(select(named.owner_id)).all()
    if not any(owner_id in (None, owner) for owner in owners):
        return None
    return listing(Task).where(prefix) if len(owners) > MOST_HITS else listing(named)


def _probe(session: Session, listing: Listing, term: str, count: int) -> list[Task] | None:
    """The matches among the newest PROBE_ROWS rows of the list, if that decides the page:
    they are a page, or they are all the list has."""
    newest = aliased(Task, listing(Task).limit(PROBE_ROWS).subquery())
    query = listing(newest).where(matching_text(term, _dialect(session), newest))
    found = _first(session, query, count)
    if len(found) == count or _shorter_than(session, listing, PROBE_ROWS):
        return found
    return None


def _shorter_than(session: Session, listing: Listing, rows: int) -> bool:
    window = listing(Task).with_only_columns(col(Task.id)).limit(rows).subquery()
    return int(session.exec(select(func.count()).select_from(window)).one()) < rows


def _sqlite_text_matches(session: Session, listing: Listing, term: str) -> Any:
    """The list narrowed to the rows the trigram index names, unless it names too many: then
    they are common enough that reading the list in order finds them soon."""
    if len(term) < MIN_TERM:
        return listing(Task).where(matching_text(term, "sqlite", Task))
    phrase = '"' + term.replace('"', '""') + '"'
    matches = text(f"SELECT rowid FROM {SEARCH_TABLE} WHERE {SEARCH_TABLE} MATCH :phrase LIMIT :n")
    hits = session.connection().execute(matches, {"phrase": phrase, "n": MOST_HITS + 1})
    rowids = list(hits.scalars())
    if len(rowids) > MOST_HITS:
        return listing(Task).where(matching_text(term, "sqlite", Task))
    return listing(_among(select(Task).where(literal_column("task.rowid").in_(rowids))))


def matching_text(term: str, dialect: str, task: Any = Task) -> ColumnElement[bool]:
    """The text match as a condition on each row of `task` (Task, or an alias of it). On
    PostgreSQL these are the very expressions the trigram indexes are made on."""
    pattern = "%" + _escaped(term) + "%"
    params = task.params_text
    if dialect == "postgresql":
        return or_(params.ilike(pattern, escape="\\"), task.error.ilike(pattern, escape="\\"))
    # SQLite's LIKE ignores case (of ASCII letters); its ILIKE would add lower() on both sides.
    return or_(params.like(pattern, escape="\\"), task.error.like(pattern, escape="\\"))


def id_prefix(term: str, dialect: str) -> ColumnElement[bool]:
    """Tasks whose id is the term, or begins with it when it is MIN_ID_PREFIX characters or
    more (the term is one that could_be_an_id)."""
    if len(term) < MIN_ID_PREFIX:
        return col(Task.id) == term
    return id_begins_with(term, dialect)


def id_begins_with(term: str, dialect: str) -> ColumnElement[bool]:
    """Tasks whose id begins with the term, in a form each database answers from an index."""
    if dialect == "postgresql":
        return col(Task.id).like(_escaped(term) + "%", escape="\\")
    successor = term[:-1] + chr(ord(term[-1]) + 1)  # every id that begins with the term sorts below
    return (col(Task.id) >= term) & (col(Task.id) < successor)


def _escaped(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def in_the_models(name: str | None, kind: str, _parents: object = None) -> bool:
    """Alembic's include_name: leaves the search structures out of model comparisons."""
    if kind == "table":
        return not (name or "").startswith(SEARCH_TABLE)
    return not (kind == "index" and name in UNMODELLED_INDEXES)
