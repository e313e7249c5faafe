"""One parser turns a string into a mode: the environment, the template and the CLI share it."""

from __future__ import annotations

import pytest

from s3ledger.core.config import MODES, Settings, parse_mode
from s3ledger.core.errors import ConfigurationError


@pytest.mark.parametrize("name", MODES)
def test_every_mode_parses_to_itself(name: str) -> None:
    assert parse_mode(name) == name


@pytest.mark.parametrize("name", ["", "Inbox", "inbox ", "lambda"])
def test_an_unknown_name_is_a_configuration_error(name: str) -> None:
    with pytest.raises(ConfigurationError, match="unknown mode"):
        parse_mode(name)


def test_settings_from_env_parses_the_mode() -> None:
    assert Settings.from_env({"S3LEDGER_MODE": "transact"}).mode == "transact"
    with pytest.raises(ConfigurationError, match="unknown mode 'nope'"):
        Settings.from_env({"S3LEDGER_MODE": "nope"})
