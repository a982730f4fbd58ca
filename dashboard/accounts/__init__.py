"""Accounts: users, their passwords, login sessions, API tokens, CSRF and the login throttle.

Nothing here knows about HTTP; `dashboard.deps` and `dashboard.routes.auth` put it on the web.
"""
