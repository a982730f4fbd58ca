"""The static files the pages load, and nothing else that lives beside them.

`static/` also holds the build script that fetches the front-end libraries
(`build-assets.mjs`); it is not for browsers, and neither is anything else there that the
pages do not load (a probe found the script served). Only the kinds of file a page loads are.
"""

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

SERVED_SUFFIXES = frozenset({".css", ".js", ".map", ".png", ".svg", ".ico", ".woff2"})


class SiteFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        if not any(path.endswith(suffix) for suffix in SERVED_SUFFIXES):
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)
