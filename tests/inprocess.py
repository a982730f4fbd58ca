"""The web app in this process, against a real SQLite file and a real Redis, for tests that
send it requests (httpx's ASGI transport) without a web server or a worker."""

from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session, select

from dashboard import migrate
from dashboard.app import create_app
from dashboard.models import Task
from dashboard.settings import Settings
from tests import aio
from tests.accounts import Account

# (method, path, JSON body or form fields, headers); a form when the body is a str dict sent
# with a CSRF header.
Call = tuple[str, str, dict[str, Any], dict[str, str]]


class InProcessApp:
    def __init__(self, state_dir: Path, redis_url: str, **settings: Any) -> None:
        url = f"sqlite:///{state_dir / 'db.sqlite'}"
        migrate.upgrade(url)
        options = Settings(state_dir=state_dir, redis_url=redis_url, database_url=url)
        self.app: FastAPI = create_app(options.model_copy(update=settings))

    @property
    def engine(self) -> Engine:
        return self.app.state.services.engine  # type: ignore[no-any-return]

    def send(self, user: Account, calls: list[Call]) -> list[httpx.Response]:
        """Each call in turn, as `user` (API calls with the token, page calls with the session
        cookie and the CSRF header, as htmx sends them)."""

        async def send_all() -> list[httpx.Response]:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://test", cookies=user.cookies
            ) as client:
                return [await self._one(client, user, call) for call in calls]

        return aio.run(send_all())

    @staticmethod
    async def _one(client: httpx.AsyncClient, user: Account, call: Call) -> httpx.Response:
        method, path, body, headers = call
        if path.startswith("/api/"):
            return await client.request(method, path, json=body, headers={**user.bearer, **headers})
        page = {**user.page_headers, "HX-Request": "true", **headers}
        return await client.request(method, path, data=body, headers=page)

    def rows(self) -> list[Task]:
        with Session(self.engine) as session:
            return list(session.exec(select(Task).order_by(Task.queued_at)))
