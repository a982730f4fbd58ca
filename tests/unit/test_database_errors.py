"""A database that cannot answer is a 503 to try again, not a bare 500 (real SQLite)."""

import asyncio
import sqlite3
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, text

from dashboard.errors import install_error_handlers


def app_writing_to(engine: Engine) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/api/write")
    def write() -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO notes VALUES ('x')"))

    return app


def post(app: FastAPI) -> httpx.Response:
    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/api/write")

    return asyncio.run(ask())


def test_a_database_locked_by_another_program_is_a_503(tmp_path: Path) -> None:
    """A probe held SQLite locked: the submission waited out the busy timeout, then got 500."""
    path = tmp_path / "locked.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE notes (text TEXT)")
    holder.execute("BEGIN EXCLUSIVE")
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.2})
    try:
        answer = post(app_writing_to(engine))
    finally:
        holder.close()
        engine.dispose()
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
    assert answer.json()["detail"].startswith("the database is unavailable")


def test_a_pool_with_no_connection_to_spare_is_a_503(tmp_path: Path) -> None:
    engine = create_engine(
        f"sqlite:///{tmp_path / 'busy.db'}", pool_size=1, max_overflow=0, pool_timeout=0.2
    )
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE notes (text TEXT)"))
    try:
        with engine.connect():  # every connection taken, by some other request
            answer = post(app_writing_to(engine))
    finally:
        engine.dispose()
    assert answer.status_code == 503
