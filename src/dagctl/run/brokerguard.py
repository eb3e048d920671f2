"""What a ``dagctl worker`` process changes in kombu and Celery to live through a broker that goes away.

Imported by :func:`dagctl.run.workerstart.start_worker` only: nothing here touches a coordinator's process.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger("dagctl.run.worker")


def survive_broker_restarts() -> None:
    """Keep the worker alive when the broker goes away while it holds a message (kombu 5.x, redis transport).

    On a lost connection Celery closes the consumer's channel, and the channel hands its unacknowledged
    messages back to Redis through the connection that is already gone: ``'NoneType' object has no attribute
    'hostname'``, an "Unrecoverable error" that ended the worker, and the run then waited for ever for its next
    task. With no connection left to hand them back through, the hand-back is skipped: a broker restarted empty
    has nothing to give back to, and one that kept its data restores them itself after the visibility timeout,
    while the ledger's leases deliver a lost attempt again sooner. Patched once, in the worker process only."""
    from kombu.transport import redis as kombu_redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    qos: Any = kombu_redis.QoS
    if getattr(qos, "dagctl_guarded", False):
        return

    def gone(self: Any) -> bool:
        transport = getattr(self.channel, "connection", None)
        return transport is None or getattr(transport, "client", None) is None

    def guard(name: str, *, skip: bool) -> None:
        original = getattr(qos, name)

        def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
            if gone(self):
                if skip:  # closing a channel: nothing to hand back through
                    logger.warning("the broker connection is gone: unacknowledged messages are left to the broker")
                    return None
                # an ack of a message of the lost connection: the error Celery expects there (it logs it and
                # goes on; the broker delivers the message again, and the ledger knows the attempt is done)
                raise RedisConnectionError("the broker connection this message came through is gone")
            return original(self, *args, **kwargs)

        setattr(qos, name, guarded)

    guard("restore_unacked_once", skip=True)
    guard("ack", skip=False)
    guard("reject", skip=False)
    qos.dagctl_guarded = True


def quiet_connection_loss_warning(**_: Any) -> None:
    """Tasks going on through a lost connection is what dagctl wants (the ledger's leases cover them): not a
    twelve-line warning in the worker's log on every broker restart. Installed once the worker is ready, after
    Celery's logging set-up has put its own "always" filters first."""
    import warnings

    from celery.exceptions import CPendingDeprecationWarning

    warnings.filterwarnings("ignore", category=CPendingDeprecationWarning, module="celery.worker.consumer")
