"""/static serves what the pages load (the real static directory, the built vendor files
included) and not the build script that lives beside them."""

import httpx
from fastapi import FastAPI

from dashboard.app import STATIC_DIR
from dashboard.sitefiles import SiteFiles
from tests.aio import run


def get_all(paths: list[str]) -> list[int]:
    app = FastAPI()
    app.mount("/static", SiteFiles(directory=STATIC_DIR), name="static")

    async def fetch() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [(await client.get(path)).status_code for path in paths]

    return run(fetch())


def test_the_pages_files_are_served_and_the_build_script_is_not() -> None:
    assert (STATIC_DIR / "build-assets.mjs").exists()
    served = ["/static/dashboard.js", "/static/dashboard.css", "/static/vendor/htmx.min.js"]
    assert get_all([*served, "/static/build-assets.mjs", "/static/vendor"]) == [200] * 3 + [404] * 2
