"""Email over SMTP (aiosmtplib), optionally upgraded with STARTTLS and logged in."""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

import aiosmtplib

from analytics_gateway.alerting.channels.base import DeliveryError
from analytics_gateway.alerting.model import Channel
from analytics_gateway.alerting.notify import summary
from analytics_gateway.alerting.templates import format_value


def compose(channel: Channel, notification: Mapping[str, Any]) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = summary(notification)
    mail["From"] = channel.sender
    mail["To"] = ", ".join(channel.recipients)
    mail["X-Alert-Notification-Id"] = str(notification["id"])
    lines = [summary(notification), ""]
    for alert in notification["alerts"]:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(alert["labels"].items()))
        lines.append(f"{alert['status'].upper()}  {labels}")
        if alert["value"] is not None:
            lines.append(f"  value: {format_value(alert['value'])}")
        lines += [f"  {k}: {v}" for k, v in alert["annotations"].items()]
    mail.set_content("\n".join(lines) + "\n")
    return mail


class EmailSender:
    async def send(self, channel: Channel, notification: Mapping[str, Any]) -> None:
        try:
            await aiosmtplib.send(
                compose(channel, notification),
                hostname=channel.smtp_host,
                port=channel.smtp_port,
                start_tls=channel.start_tls,
                use_tls=False,
                username=channel.username or None,
                password=channel.password or None,
                timeout=channel.timeout_ms / 1000,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"SMTP refused the recipients: {exc}", permanent=True) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP: {exc}") from exc
