"""Outgoing mail: one small interface, an SMTP implementation, and a file one for development.

``ATENDAI_MAIL_BACKEND=file`` (the default) writes each message as an ``.eml`` file under
``<data_dir>/mail`` and logs where; ``smtp`` sends through the configured server; ``console`` only logs.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Protocol

import anyio.to_thread
import structlog

from kernel.config import Settings

__all__ = ["ConsoleMailer", "FileMailer", "Mail", "Mailer", "SmtpMailer", "build_mailer"]

log = structlog.get_logger("kernel.mail")


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None: ...


def _message(sender: str, mail: Mail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "atendai.local")
    message.set_content(mail.text)
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
    return message


@dataclass
class FileMailer:
    directory: Path
    sender: str

    async def send(self, mail: Mail) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{time.time_ns()}.eml"
        path.write_bytes(bytes(_message(self.sender, mail)))
        log.info("mail_written", to=mail.to, subject=mail.subject, path=str(path))


@dataclass
class ConsoleMailer:
    sender: str

    async def send(self, mail: Mail) -> None:
        log.info("mail", to=mail.to, subject=mail.subject, text=mail.text)


@dataclass
class SmtpMailer:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    security: str = "starttls"
    """``starttls``, ``ssl`` or ``none``."""
    timeout: float = 15.0

    async def send(self, mail: Mail) -> None:
        message = _message(self.sender, mail)
        await anyio.to_thread.run_sync(self._send_blocking, message)
        log.info("mail_sent", to=mail.to, subject=mail.subject)

    def _send_blocking(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.security == "ssl":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.security == "starttls":
                smtp.starttls(context=context)
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)


def build_mailer(settings: Settings) -> Mailer:
    if settings.mail_backend == "smtp":
        if not settings.smtp_host:
            raise ValueError("ATENDAI_SMTP_HOST is required with ATENDAI_MAIL_BACKEND=smtp")
        return SmtpMailer(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.mail_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
            security=settings.smtp_security,
        )
    if settings.mail_backend == "console":
        return ConsoleMailer(sender=settings.mail_from)
    return FileMailer(directory=settings.data_path() / "mail", sender=settings.mail_from)
