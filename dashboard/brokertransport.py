"""kombu's Redis transport, with two changes.

A message handed back goes to the front. kombu requeues a rejected message with LPUSH, while
its consumers pop from the other end, so a task whose pool process died (Celery rejects its
late-acknowledged message) waits behind everything queued since, minutes on a busy queue. A
task that had already started should run again next: RPUSH puts it where consumers take from.

A channel can still reach Redis after its connection is let go of. When the connection to
Redis breaks, Celery closes it, and kombu detaches the transport from its settings
(`transport.client = None`) before the channel holding a running task's message has handed
that message back. The new connection for that failed with an AttributeError on the missing
settings, which is no connection error, so the worker's main process shut down once its
running tasks ended (Celery 5.7, kombu 5.7; kombu issues #582 and #970 are the same failure
on other paths). The channel keeps the settings it was made with. With Redis away, handing
back fails as a connection error, which Celery expects; the message stays unacknowledged in
Redis, and the task, ending once Redis is back, acknowledges it through the same channel.
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

    def __init__(self, connection: Any, *args: Any, **kwargs: Any) -> None:
        self.broker_settings = connection.client  # kombu's Connection: host, port, password...
        super().__init__(connection, *args, **kwargs)

    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection.client is None:  # let go of, but this channel still has work
            self.connection.client = self.broker_settings
        return super()._connparams(asynchronous=asynchronous)  # type: ignore[misc]


class Transport(redis.Transport):
    Channel = Channel


def use_for_redis() -> None:
    """Makes `redis://` (and `rediss://`) URLs use this transport in this process. An alias
    rather than Celery's broker_transport, so URLs and logs still read redis://."""
    for scheme in ("redis", "rediss"):
        TRANSPORT_ALIASES[scheme] = f"{__name__}:Transport"
