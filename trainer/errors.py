"""The one exception type that reaches the user.

Anything raised as ``CadenzaError`` is printed by ``__main__`` as a single line
``error: <message>`` and the process exits with status 2. Its message must make
sense on its own: name the file, flag or folder at fault and what to do.
"""


class CadenzaError(Exception):
    """A user-facing failure: bad flag, bad folder, unusable data."""


class ConfigError(CadenzaError):
    """A setting is out of range or inconsistent with another setting."""
