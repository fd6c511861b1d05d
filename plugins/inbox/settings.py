"""The inbox's settings for an organization (the Modules page draws the form)."""

from __future__ import annotations

from typing import Annotated

import msgspec

from kernel.sdk import N_
from plugins.inbox.hours import BusinessHours, default_hours

__all__ = ["InboxSettings"]

PRIORITIES = ("urgent", "high", "normal", "low")


class InboxSettings(msgspec.Struct, kw_only=True, frozen=True):
    wait_alert_urgent: Annotated[int, msgspec.Meta(ge=1, le=10080, title=N_("Wait alert, urgent (minutes)"))] = 5
    wait_alert_high: Annotated[int, msgspec.Meta(ge=1, le=10080, title=N_("Wait alert, high (minutes)"))] = 15
    wait_alert_normal: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            le=10080,
            title=N_("Wait alert, normal (minutes)"),
            description=N_("Minutes a customer may wait for a reply before the card turns red and the team is told."),
        ),
    ] = 30
    wait_alert_low: Annotated[int, msgspec.Meta(ge=1, le=10080, title=N_("Wait alert, low (minutes)"))] = 120
    reopen_hours: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            le=720,
            title=N_("Reopen within (hours)"),
            description=N_(
                "A customer who writes again within this time after a conversation was resolved reopens it; "
                "later, a new conversation starts."
            ),
        ),
    ] = 24
    return_to_ai: Annotated[
        bool,
        msgspec.Meta(
            title=N_("Back to the AI agent on a new message"),
            description=N_(
                "When a resolved conversation gets a new message, the channel's AI agent answers again "
                "(unless a person paused the AI)."
            ),
        ),
    ] = True
    reply_debounce_seconds: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            le=60,
            title=N_("AI waits before replying (seconds)"),
            description=N_("Customers often send several short messages in a row: the AI answers them together."),
        ),
    ] = 4
    typing_delay: Annotated[
        bool,
        msgspec.Meta(
            title=N_("Show typing before AI replies"),
            description=N_("The AI's replies arrive after a short typing pause, as a person's would."),
        ),
    ] = True
    out_of_hours_message: Annotated[
        str,
        msgspec.Meta(
            max_length=1000,
            title=N_("Out-of-hours message"),
            description=N_(
                "Sent once when a customer writes outside business hours and no AI agent answers. "
                "Empty: a standard message in the customer's language."
            ),
        ),
    ] = ""
    csat: Annotated[
        bool,
        msgspec.Meta(
            title=N_("Ask for a rating"),
            description=N_("When a conversation is resolved, the customer is asked to rate it from 1 to 5."),
        ),
    ] = True
    business_hours: BusinessHours = msgspec.field(default_factory=default_hours)

    def wait_threshold(self, priority: str) -> int:
        """Minutes before a wait alert for a conversation of ``priority``."""
        return {
            "urgent": self.wait_alert_urgent,
            "high": self.wait_alert_high,
            "normal": self.wait_alert_normal,
            "low": self.wait_alert_low,
        }.get(priority, self.wait_alert_normal)
