"""`dashboard client`: an asynchronous terminal client (see `dashboard.client.session`)."""

from dashboard.client.session import run

__all__ = ["run"]
