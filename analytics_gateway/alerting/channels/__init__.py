"""Senders per channel kind: webhook (signed JSON), Slack incoming webhook, email (SMTP)."""
