"""kombu's Redis transport, with one change: a message handed back goes to the front.

kombu requeues a rejected message with LPUSH, while its consumers pop from the other end, so
a task whose pool process died (Celery rejects its late-acknowledged message) waits behind
everything queued since, minutes on a busy queue. A task that had already started should
run again next: RPUSH puts it where consumers take from.
"""

from typing import Any

from kombu.transport import TRANSPORT_ALIASES, redis, virtual


class QoS(redis.QoS):
    def reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        if not requeue:
            super().reject(delivery_tag, requeue=False)
            return
        self.restore_by_tag(delivery_tag, leftmost=False)  # RPUSH: the next to be taken
        # As kombu's own reject does: the base class's ack, the indices being gone already.
        virtual.QoS.ack(self, delivery_tag)


class Channel(redis.Channel):
    QoS = QoS


class Transport(redis.Transport):
    Channel = Channel


def use_for_redis() -> None:
    """Makes `redis://` (and `rediss://`) URLs use this transport in this process. An alias
    rather than Celery's broker_transport, so URLs and logs still read redis://."""
    for scheme in ("redis", "rediss"):
        TRANSPORT_ALIASES[scheme] = f"{__name__}:Transport"
