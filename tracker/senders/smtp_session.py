"""smtplib sessions that know whether the message data has gone out.

RFC 5321 §6.1: once the server has received the end-of-data dot, it may
have taken responsibility for the message, even if its reply never reaches
us. A connection lost *after* the dot and *before* the reply is therefore
not a failure to retry: resending could deliver the message twice (a second
acknowledgement, a second IRO notice). :class:`SMTP` and :class:`SMTP_SSL`
record that moment, so :mod:`tracker.senders.smtp` can tell it apart and
raise :class:`~tracker.errors.DeliveryUncertain`.
"""

from __future__ import annotations

import smtplib
from typing import Any

__all__ = ["SMTP", "SMTP_SSL", "data_was_sent"]

#: What smtplib's ``data()`` ends the message with (RFC 5321 §4.1.1.4).
_END_OF_DATA = b"\r\n.\r\n"


class _DataTracking(smtplib.SMTP):
    """Remembers, per ``data()`` call, whether the whole message with its dot was sent."""

    _in_data = False
    data_sent = False

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.data_sent = False
        self._in_data = True
        try:
            return super().data(msg)
        finally:
            self._in_data = False

    def send(self, s: Any) -> None:
        super().send(s)
        if self._in_data and isinstance(s, bytes) and s.endswith(_END_OF_DATA):
            self.data_sent = True

    def mail(self, sender: str, options: Any = ()) -> tuple[int, bytes]:
        self.data_sent = False  # a new transaction: nothing of it is sent yet
        return super().mail(sender, options)


class SMTP(_DataTracking):
    """:class:`smtplib.SMTP` that records when the message data went out."""


class SMTP_SSL(_DataTracking, smtplib.SMTP_SSL):
    """:class:`smtplib.SMTP_SSL` that records when the message data went out."""


def data_was_sent(conn: smtplib.SMTP | None) -> bool:
    """Did ``conn``'s current transaction send the message data, end-of-data dot included?"""
    return bool(getattr(conn, "data_sent", False))
