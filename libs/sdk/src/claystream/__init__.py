"""Claystream Python SDK: ``Client(url, api_key)`` to log records, predictions and feedback."""

from claystream.client import Client, LogResult
from claystream.errors import ApiError, ClaystreamError, ValidationFailed
from claystream.training import prepare_for_training

__all__ = ["ApiError", "ClaystreamError", "Client", "LogResult", "ValidationFailed", "prepare_for_training"]
__version__ = "0.1.0"
