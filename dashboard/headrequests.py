"""HEAD is answered as GET is, with the same status and headers and no body.

HTTP asks every server to answer HEAD wherever it answers GET, and uptime monitors and link
checkers send it, but a FastAPI route answers only the methods it names: HEAD got 405 on every
page, /healthz included. This outermost layer runs a HEAD request as a GET and ends the answer
once its headers are out. It stops the application at its first body message, so a HEAD on a
large download or an event stream costs no more than its headers.
"""

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _HeadersSent(BaseException):
    """Raised out of the application's send once the headers are out. A BaseException, like
    cancellation, so that no `except Exception` in the application takes it for a failure."""


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.start":
                await send(message)
                return
            # The server sends no body for a HEAD request; this ends its answer.
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            raise _HeadersSent

        try:
            await self.app({**scope, "method": "GET"}, receive, headers_only)
        except* _HeadersSent:
            pass  # a response that streams from a task group raises it inside a group
