"""Database errors as text that is safe to store and log.

A driver's exception text can carry the statement's values (a Zoom access token being saved,
a participant's e-mail in a unique-key DETAIL line). Engines are created with
`hide_parameters=True`, and what reaches `last_error` columns and log lines is only the
error's class and the driver's primary message, never its SQL, parameters or DETAIL.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

#: Longest driver message kept (characters).
MAX_MESSAGE = 200


def describe(exc: SQLAlchemyError) -> str:
    """`ClassName: primary message` of a database error, without values."""
    name = type(exc).__name__
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        orig = exc.orig
        diag = getattr(orig, "diag", None)
        primary = getattr(diag, "message_primary", None) if diag is not None else None
        message = primary or str(orig).split("\n", 1)[0]
        return f"{name}: {message[:MAX_MESSAGE]}"
    return f"{name}: {str(exc).split(chr(10), 1)[0][:MAX_MESSAGE]}"
