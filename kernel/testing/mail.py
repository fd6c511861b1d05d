"""Reading the mail the app sent in tests (the ``file`` mail backend writes ``<data_dir>/mail/*.eml``)."""

from __future__ import annotations

import email as email_lib
import re
from email.message import Message
from pathlib import Path
from typing import Any

__all__ = ["link_token", "mails_to"]


def mails_to(settings: Any, address: str) -> list[Message]:
    """Every mail sent to ``address`` so far, oldest first."""
    folder = Path(settings.data_dir) / "mail"
    found = []
    for path in sorted(folder.glob("*.eml")) if folder.is_dir() else []:
        message = email_lib.message_from_bytes(path.read_bytes())
        if message["To"] == address:
            found.append(message)
    return found


def link_token(message: Message) -> str:
    """The ``token=`` of the link in a mail (an invitation or a password reset)."""
    found = re.search(r"token=([\w-]+)", message.get_payload(decode=True).decode())
    if found is None:
        raise AssertionError("the mail has no link with a token")
    return found.group(1)
