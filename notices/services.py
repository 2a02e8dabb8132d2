from __future__ import annotations

import datetime as dt

from notices.sms import get_backend


def sms_send(*, phone: str, body: str, now: dt.datetime) -> None:
    get_backend().send(phone=phone, body=body, now=now)
