"""Transports: how a rendered message leaves the system.

- `LogTransport` (the default, `NOTIFICATION_TRANSPORT=log`): writes "would send email
  notification 12" to the log — never the content or the address.
- `SmtpTransport` (`NOTIFICATION_TRANSPORT=smtp`): email through an SMTP server (MAIL_*).
- `SmsGatewayTransport` (when `SMS_GATEWAY_URL` is set): POSTs JSON
  {to, from, body, idempotency_key} with `Authorization: Bearer SMS_GATEWAY_TOKEN`.
  2xx is sent, 4xx is a permanent failure (except 408 and 429), 5xx and timeouts are retried.

Each message carries a stable identity on the wire (SMTP `Message-ID:
<notification-{id}@referralnet>`, the gateway's `idempotency_key`), so that the rare
re-send after a crash between sending and recording it is recognisable downstream.

Transports raise `DeliveryError` with `permanent` set and a message that names the error
class and code only: SMTP and HTTP errors can quote addresses, and they end up in
`Notification.last_error`.
"""
from __future__ import annotations

import json
import logging
import smtplib
import socket
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate
from typing import Protocol

from referralnet.notifications.rendering import OutgoingMessage

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """A send failed. `permanent`: retrying cannot help (the recipient or message was refused)."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class Transport(Protocol):
    def send(self, message: OutgoingMessage) -> None: ...


class LogTransport:
    """Writes that a message would be sent; the development default."""

    def send(self, message: OutgoingMessage) -> None:
        log.info("would send %s notification %s", message.channel, message.notification_id)


class SmtpTransport:
    """Email through an SMTP server: MAIL_SERVER, MAIL_PORT, MAIL_USERNAME, MAIL_PASSWORD, MAIL_USE_TLS, MAIL_FROM."""

    def __init__(self, config):
        self.host = config.get("MAIL_SERVER") or "localhost"
        self.port = int(config.get("MAIL_PORT") or 25)
        self.username = config.get("MAIL_USERNAME") or None
        self.password = config.get("MAIL_PASSWORD") or None
        self.use_tls = bool(config.get("MAIL_USE_TLS"))
        self.sender = config.get("MAIL_FROM") or "referralnet@localhost"
        self.timeout = float(config.get("MAIL_TIMEOUT") or 30)

    def build(self, message: OutgoingMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message.to
        email["Subject"] = message.subject or "ReferralNet"
        email["Date"] = formatdate(localtime=False, usegmt=True)
        email["Message-ID"] = f"<{message.idempotency_key}@referralnet>"
        email["Content-Language"] = message.language
        email["Auto-Submitted"] = "auto-generated"
        email.set_content(message.body)
        return email

    def send(self, message: OutgoingMessage) -> None:
        email = self.build(message)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.use_tls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _ in exc.recipients.values()})
            raise DeliveryError(f"SMTPRecipientsRefused {','.join(map(str, codes))}",
                                permanent=all(code >= 500 for code in codes)) from None
        except (smtplib.SMTPAuthenticationError, smtplib.SMTPSenderRefused) as exc:
            # Our configuration, not this message: retry once someone fixes it.
            raise DeliveryError(f"{type(exc).__name__} {exc.smtp_code}") from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"{type(exc).__name__} {exc.smtp_code}", permanent=exc.smtp_code >= 500) from None
        except (smtplib.SMTPException, OSError) as exc:  # refused connection, timeout, disconnect, TLS
            raise DeliveryError(type(exc).__name__) from None


class SmsGatewayTransport:
    """Text messages through an HTTP gateway: SMS_GATEWAY_URL, SMS_GATEWAY_TOKEN, SMS_FROM."""

    RETRYABLE_4XX = (408, 429)

    def __init__(self, config):
        self.url = config["SMS_GATEWAY_URL"]
        self.token = config.get("SMS_GATEWAY_TOKEN") or ""
        self.sender = config.get("SMS_FROM") or ""
        self.timeout = float(config.get("SMS_TIMEOUT") or 15)

    def send(self, message: OutgoingMessage) -> None:
        payload = json.dumps({"to": message.to, "from": self.sender, "body": message.body,
                              "idempotency_key": message.idempotency_key}).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": message.idempotency_key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=payload, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (configured URL)
                response.read()
        except urllib.error.HTTPError as exc:  # urlopen raises for every non-2xx answer
            code = exc.code
            exc.close()
            permanent = 400 <= code < 500 and code not in self.RETRYABLE_4XX
            raise DeliveryError(f"HTTP {code}", permanent=permanent) from None
        except (urllib.error.URLError, socket.timeout, OSError) as exc:
            raise DeliveryError(type(exc).__name__) from None


def transport_for(channel: str, config) -> Transport:
    """The configured transport for a channel ("email" or "sms")."""
    if channel == "email":
        kind = (config.get("NOTIFICATION_TRANSPORT") or "log").lower()
        if kind == "smtp":
            return SmtpTransport(config)
        if kind != "log":
            raise ValueError(f"NOTIFICATION_TRANSPORT must be 'log' or 'smtp', not {kind!r}")
        return LogTransport()
    if channel == "sms":
        return SmsGatewayTransport(config) if config.get("SMS_GATEWAY_URL") else LogTransport()
    raise ValueError(f"no transport for channel {channel!r}")
