"""Outgoing mail through a real SMTP conversation with a local server, and the development file mailer."""

from __future__ import annotations

import email
import smtplib

import pytest
from aiosmtpd.controller import Controller

from kernel.mail import FileMailer, Mail, SmtpMailer

pytestmark = pytest.mark.asyncio(loop_scope="session")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


async def test_smtp_mailer_delivers_text_and_html(smtp_server):
    inbox, port = smtp_server
    mailer = SmtpMailer(host="127.0.0.1", port=port, sender="Atendai <no-reply@example.com>", security="none")
    await mailer.send(Mail(to="ana@example.com", subject="Convite", text="Olá, Ana", html="<p>Olá, Ana</p>"))
    [message] = inbox.messages
    assert message["To"] == "ana@example.com" and message["Subject"] == "Convite"
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in message.walk()
        if not part.is_multipart()
    }
    assert parts["text/plain"].strip() == "Olá, Ana" and "<p>Olá, Ana</p>" in parts["text/html"]


async def test_smtp_mailer_refuses_to_send_in_clear_when_starttls_is_required(smtp_server):
    _, port = smtp_server
    mailer = SmtpMailer(host="127.0.0.1", port=port, sender="no-reply@example.com", security="starttls")
    with pytest.raises(smtplib.SMTPNotSupportedError):
        await mailer.send(Mail(to="ana@example.com", subject="x", text="x"))


async def test_file_mailer_writes_an_eml_per_message(tmp_path):
    await FileMailer(directory=tmp_path, sender="no-reply@example.com").send(
        Mail(to="b@example.com", subject="Oi", text="corpo")
    )
    [path] = list(tmp_path.glob("*.eml"))
    message = email.message_from_bytes(path.read_bytes())
    assert message["Subject"] == "Oi" and message.get_payload(decode=True).decode().strip() == "corpo"
