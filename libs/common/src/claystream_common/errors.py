"""Error classes the consumer runner understands."""

from __future__ import annotations


class PermanentError(Exception):
    """Retrying cannot help (bad data, unknown dataset...): the message goes to the DLQ at once."""


class TransientError(Exception):
    """A dependency is briefly unavailable: retry with backoff, never dead-letter for it."""


def is_infrastructure_error(error: BaseException) -> bool:
    """Connection-level failures of Mongo, Redis or Kafka: retried until the dependency is back."""
    if isinstance(error, TransientError):
        return True
    try:
        from pymongo.errors import AutoReconnect, ConnectionFailure, NetworkTimeout, ServerSelectionTimeoutError

        if isinstance(error, AutoReconnect | ConnectionFailure | NetworkTimeout | ServerSelectionTimeoutError):
            return True
    except ImportError:  # pragma: no cover
        pass
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        if isinstance(error, RedisConnectionError | RedisTimeoutError):
            return True
    except ImportError:  # pragma: no cover
        pass
    from claystream_common.kafka.producer import PublishError

    return isinstance(error, PublishError | ConnectionError | TimeoutError)


def unavailable_dependency(error: BaseException) -> str | None:
    """The store a request could not reach ("MongoDB", "Redis"), or None when ``error`` is no connection-level
    failure of one (bad data, a bug: those stay what they are)."""
    try:
        from pymongo.errors import ConnectionFailure

        if isinstance(error, ConnectionFailure):  # also AutoReconnect, NetworkTimeout, ServerSelectionTimeoutError
            return "MongoDB"
    except ImportError:  # pragma: no cover
        pass
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        if isinstance(error, RedisConnectionError | RedisTimeoutError):
            return "Redis"
    except ImportError:  # pragma: no cover
        pass
    return None
