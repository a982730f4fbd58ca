"""FastAPI dependencies as typed aliases, so a route's signature reads like a sentence."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from sqlmodel import Session

from dashboard.services import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    with Session(services.engine, expire_on_commit=False) as session:
        yield session


def get_owner() -> int | None:
    """The user a request acts for; everyone is the one anonymous user until accounts exist."""
    return None


def get_resume_id(
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id: Annotated[
        str | None,
        Query(description="Where to resume; for clients that cannot send Last-Event-ID."),
    ] = None,
) -> str | None:
    """The header wins: the browser's own reconnect sends it and it is the newer of the two."""
    return last_event_id_header or last_event_id


SessionDep = Annotated[Session, Depends(get_session)]
OwnerDep = Annotated[int | None, Depends(get_owner)]
ResumeIdDep = Annotated[str | None, Depends(get_resume_id)]
