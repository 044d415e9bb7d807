"""Error classes the consumer runner understands."""

from __future__ import annotations


class PermanentError(Exception):
    """Retrying cannot help (bad data, unknown dataset...): the message goes to the DLQ at once."""


class TransientError(Exception):
    """A dependency is briefly unavailable: retry with backoff, never dead-letter for it."""


def unavailable_stores() -> dict[type[BaseException], str]:
    """Connection-level failures of the stores, by the store's name: one list for the consumer runner's retries and
    the services' 503 answers (pymongo's ``AutoReconnect``, ``NetworkTimeout`` and ``ServerSelectionTimeoutError``
    are subclasses of ``ConnectionFailure``)."""
    from pymongo.errors import ConnectionFailure
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return {ConnectionFailure: "MongoDB", RedisConnectionError: "Redis", RedisTimeoutError: "Redis"}


def unavailable_dependency(error: BaseException) -> str | None:
    """The store a request could not reach ("MongoDB", "Redis"), or None when ``error`` is no connection-level
    failure of one (bad data, a bug: those stay what they are)."""
    return next((name for kind, name in unavailable_stores().items() if isinstance(error, kind)), None)


def is_infrastructure_error(error: BaseException) -> bool:
    """Connection-level failures of Mongo, Redis or Kafka: retried until the dependency is back."""
    if isinstance(error, TransientError) or unavailable_dependency(error) is not None:
        return True
    from claystream_common.kafka.producer import PublishError

    return isinstance(error, PublishError | ConnectionError | TimeoutError)
