"""`dashboard create-admin`: what it says when it cannot make an admin."""

from pathlib import Path

import pytest

from dashboard import migrate
from dashboard.adminsetup import AdminSetupError, setup_admin
from dashboard.settings import Settings


def test_a_mistyped_address_is_said_before_a_password_is_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'dashboard.db'}")
    migrate.upgrade(settings.effective_database_url)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)  # as under a script: no terminal
    with pytest.raises(AdminSetupError, match=r"^email: value is not a valid email address"):
        setup_admin(settings, "not an email", password_stdin=False)
