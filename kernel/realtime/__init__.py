"""Real time: tenant-scoped channels over Litestar's channels plugin, served to clients on ``/ws``.

Publishing from the server: ``publish(app_or_kernel, tenant_id, topic, data)``. Letting clients
subscribe to a new topic: ``register_topic(prefix, permission)``. See ``docs/realtime.md``.
"""

from kernel.realtime.channels import (
    CHANNELS_STATE_KEY,
    TOPICS,
    TopicRule,
    backend_kind,
    build_channels_plugin,
    channel_name,
    channels_of,
    parse_channel,
    publish,
    register_topic,
    topic_allowed,
)
from kernel.realtime.ws import realtime_socket

__all__ = [
    "CHANNELS_STATE_KEY",
    "TOPICS",
    "TopicRule",
    "backend_kind",
    "build_channels_plugin",
    "channel_name",
    "channels_of",
    "parse_channel",
    "publish",
    "realtime_socket",
    "register_topic",
    "topic_allowed",
]
