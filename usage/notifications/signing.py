"""Standard Webhooks signing (the `standardwebhooks` package): headers for one attempt."""

from datetime import datetime

from standardwebhooks.webhooks import Webhook


def signed_headers(*, secret: str, message_id: str, body: str, at: datetime) -> dict[str, str]:
    """`webhook-id` (the event's id: stable across retries and redeliveries, so receivers
    dedupe by it), `webhook-timestamp` (this attempt) and `webhook-signature`."""
    signature = Webhook(secret).sign(msg_id=message_id, timestamp=at, data=body)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": "Tally-Webhooks/1",
    }
