"""The suite's error base: what a script's `main` reports as one line and an exit status.

Every error type a module raises for its user derives from `ToolkitError` and keeps its older
second base (`ValueError` or `RuntimeError`), so `except ValueError` and `pytest.raises(ValueError)`
still hold. A `main` catches `ToolkitError` (and the third-party errors it reports, by name), never
a bare `ValueError` or `Exception`: anything else is a bug, and a bug shows its traceback.
"""

from __future__ import annotations


class ToolkitError(Exception):
    """An error the suite reports as one line, `error: <message>`, and an exit status; never a traceback.

    The message is meant for the person who ran the script: it names the file, line, field or
    flag at fault and, where one exists, what to do instead. The exit status is the script's own
    (README, "Exit status"): 1 for most, 2 where the input was refused before anything ran.
    """


class UsageError(ToolkitError, ValueError):
    """A flag value or combination of flags that argparse cannot check (a range, two flags that
    exclude each other); the message names the flag or the value."""
