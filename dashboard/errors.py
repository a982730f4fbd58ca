"""Error answers: a clear status and reason, never a bare 500 for a known failure."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from dashboard.enqueue import BrokerUnavailable


async def _broker_unavailable(_request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=503)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(BrokerUnavailable, _broker_unavailable)
