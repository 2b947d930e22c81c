"""Publishing one message; the SendMessage response is the confirm (sync callers, the outbox).

On a FIFO queue ``group_id`` is the MessageGroupId (else the queue's own setting) and
``dedupe_key`` the MessageDeduplicationId (else the queue's factory, else our message
id: a relay that publishes a message twice within SQS's five-minute window is
deduplicated by SQS itself). ``delay_s`` is DelaySeconds (standard queues, up to 900).
SQS has no priority: refused by name, as are a delay on FIFO and FIFO ids on a
standard queue.
"""

from __future__ import annotations

import asyncio
import copy
import math
from typing import TYPE_CHECKING, Any

from django_onestep.connectors.broker_send import MESSAGE_ID_KEY, PublishOptions, SyncSend
from django_onestep.connectors.codec import encode_envelope
from django_onestep.core.envelope import Envelope
from django_onestep.core.errors import ConfigurationError, ConnectorOperation

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


__all__ = ["SqsPublish"]

_MAX_DELAY_S = 900


class SqsPublish:
    """Mixed into SQSQueue (the ``SyncSend`` members of an SQS queue)."""

    url: str
    fifo: bool
    deduplication_id_factory: Callable[[Envelope], str] | None
    message_group_id: Any
    message_group_field: str | None
    _leases: Any
    _leases_loop: Any

    if TYPE_CHECKING:  # provided by the queue class; a stub here would shadow it

        def _group_id(self, envelope: Envelope) -> str:
            raise NotImplementedError

        async def send_many(self, envelopes: Iterable[Envelope]) -> None: ...

        async def _call(self, op: ConnectorOperation, method: str, **params: Any) -> Any:
            raise NotImplementedError

    @property
    def publish_target(self) -> str:
        return f"sqs:{self.url}"

    def check_publish_options(self, options: PublishOptions) -> None:
        where = f"sqs queue {self.url}"
        if self.fifo:
            options.refuse(where, "an SQS FIFO queue", ("priority", "delay_s"))
        else:
            options.refuse(where, "a standard SQS queue", ("priority", "dedupe_key", "group_id"))
        if self.fifo and options.group_id is None and not (self.message_group_id or self.message_group_field):
            raise ConfigurationError(
                f"{where}: a FIFO queue needs group_id= (or the queue's message_group_id)"
            )
        if options.delay_s is not None and options.delay_s > _MAX_DELAY_S:
            raise ConfigurationError(
                f"{where}: delay_s must be at most {_MAX_DELAY_S}, got {options.delay_s!r}"
            )

    def publisher_twin(self) -> SqsPublish:
        # boto3 clients are thread-safe and sends keep no per-loop state: share the
        # connector, drop the leases (a twin never receives).
        twin = copy.copy(self)
        twin._leases = None
        twin._leases_loop = None
        return twin

    async def publish_confirmed_many(self, envelopes: list[Envelope], options: PublishOptions) -> None:
        if self.fifo or options.delay_s:  # per-message ids or DelaySeconds
            await SyncSend.publish_confirmed_many(self, envelopes, options)  # type: ignore[arg-type]
        else:
            # SendMessageBatch, ten per call, the calls side by side (the connector's threads)
            chunks = [envelopes[i : i + 10] for i in range(0, len(envelopes), 10)]
            results = await asyncio.gather(
                *(self.send_many(chunk) for chunk in chunks), return_exceptions=True
            )
            for result in results:
                if isinstance(result, BaseException):
                    raise result

    async def publish_confirmed(self, envelope: Envelope, options: PublishOptions) -> None:
        params: dict[str, Any] = {"MessageBody": encode_envelope(envelope).decode("utf-8")}
        if self.fifo:
            group_id = options.group_id if options.group_id is not None else self._group_id(envelope)
            params["MessageGroupId"] = group_id
            if options.dedupe_key is not None:
                params["MessageDeduplicationId"] = options.dedupe_key
            elif self.deduplication_id_factory is not None:
                params["MessageDeduplicationId"] = str(self.deduplication_id_factory(envelope))
            elif envelope.meta.get(MESSAGE_ID_KEY):
                params["MessageDeduplicationId"] = str(envelope.meta[MESSAGE_ID_KEY])
        elif options.delay_s:
            params["DelaySeconds"] = math.ceil(options.delay_s)
        await self._call(ConnectorOperation.SEND, "send_message", QueueUrl=self.url, **params)
