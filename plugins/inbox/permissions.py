"""The route options (``opt``) of the inbox's API and pages: which permission each needs."""

from __future__ import annotations

__all__ = [
    "ASSIGN",
    "BOARD",
    "CONTACT_READ",
    "CONTACT_WRITE",
    "HISTORY",
    "PRIVACY",
    "READ",
    "REPLY",
    "TEAMS",
]

READ = {"permission": "inbox.conversation.read"}
REPLY = {"permission": "inbox.conversation.reply"}
ASSIGN = {"permission": "inbox.conversation.assign"}
CONTACT_READ = {"permission": "inbox.contact.read"}
CONTACT_WRITE = {"permission": "inbox.contact.write"}
PRIVACY = {"permission": "inbox.contact.privacy"}
TEAMS = {"permission": "inbox.team.manage"}
BOARD = {"permission": "inbox.board.manage"}
HISTORY = {"permission": "inbox.history.search"}
