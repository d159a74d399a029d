"""The local fake of Slack's Web API: it lives in ``pike_tasks.sandbox.slack`` so ``make demo`` can use it."""

from __future__ import annotations

from pike_tasks.sandbox.slack import BOT_USER, TOKEN, Channel, Message, SlackFake, State

__all__ = ["BOT_USER", "TOKEN", "Channel", "Message", "SlackFake", "State"]
