"""Email over SMTP (aiosmtplib), optionally upgraded with STARTTLS and logged in.

The connection goes to an address the egress policy allowed (a socket opened
by `egress.open_socket`), while STARTTLS still verifies the server's name.
Failures report a reason of our own, never the server's reply text.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

import aiosmtplib

from analytics_gateway.alerting.channels.base import DeliveryError, Outcome
from analytics_gateway.alerting.model import Channel
from analytics_gateway.alerting.notify import summary
from analytics_gateway.alerting.templates import format_value
from analytics_gateway.egress import EgressPolicy, EgressRefused, open_socket


def compose(channel: Channel, notification: Mapping[str, Any]) -> EmailMessage:
    """The mail of an alert notification, or of one that brings its own `subject` and
    `text` (reports); `attachments` (base64 `data`, `filename`, `contentType`) go with it."""
    mail = EmailMessage()
    mail["Subject"] = notification.get("subject") or summary(notification)
    mail["From"] = channel.sender
    mail["To"] = ", ".join(channel.recipients)
    mail["X-Alert-Notification-Id"] = str(notification["id"])
    if "text" in notification:
        mail.set_content(str(notification["text"]))
    else:
        mail.set_content(_alert_text(notification))
    for attachment in notification.get("attachments") or ():
        maintype, _, subtype = str(attachment["contentType"]).partition("/")
        mail.add_attachment(
            base64.b64decode(attachment["data"]),
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=str(attachment["filename"]),
        )
    return mail


def _alert_text(notification: Mapping[str, Any]) -> str:
    lines = [summary(notification), ""]
    for alert in notification["alerts"]:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(alert["labels"].items()))
        lines.append(f"{alert['status'].upper()}  {labels}")
        if alert["value"] is not None:
            lines.append(f"  value: {format_value(alert['value'])}")
        lines += [f"  {k}: {v}" for k, v in alert["annotations"].items()]
    return "\n".join(lines) + "\n"


class EmailSender:
    def __init__(self, policy: EgressPolicy, max_seconds: float) -> None:
        self._policy = policy
        self._max_seconds = max_seconds

    async def send(self, channel: Channel, notification: Mapping[str, Any]) -> None:
        seconds = min(channel.timeout_ms / 1000, self._max_seconds)
        try:
            sock = await open_socket(self._policy, channel.smtp_host, channel.smtp_port, seconds)
        except EgressRefused as exc:
            reason = f"refused by the egress policy: {exc.message}"
            raise DeliveryError(reason, permanent=True, outcome=Outcome.BLOCKED) from None
        except OSError:
            reason = f"SMTP: could not connect to {channel.smtp_host}:{channel.smtp_port}"
            raise DeliveryError(reason, outcome=Outcome.UNREACHABLE) from None
        try:
            await aiosmtplib.send(
                compose(channel, notification),
                hostname=channel.smtp_host,
                sock=sock,
                start_tls=channel.start_tls,
                use_tls=False,
                username=channel.username or None,
                password=channel.password or None,
                timeout=seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused:
            reason = "SMTP: the server refused the recipients"
            raise DeliveryError(reason, permanent=True, outcome=Outcome.REFUSED) from None
        except aiosmtplib.SMTPAuthenticationError:
            reason = "SMTP: the server refused the login"
            raise DeliveryError(reason, permanent=True, outcome=Outcome.REFUSED) from None
        except aiosmtplib.SMTPTimeoutError:
            reason = f"SMTP: timed out after {seconds:g}s"
            raise DeliveryError(reason, outcome=Outcome.TIMED_OUT) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            reason = f"SMTP: the delivery failed ({type(exc).__name__})"
            raise DeliveryError(reason, outcome=Outcome.FAILED) from None
        finally:
            sock.close()
