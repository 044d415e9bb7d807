"""Claystream Python SDK: ``Client(url, api_key, annotate_url=...)`` to log records, predictions and
feedback, and (Argilla 2.x style) ``client.datasets`` / ``dataset.records``; admins sign in with
``Client.login(annotate_url, username, password)`` for ``client.users`` and API keys."""

from claystream.client import Client, LogResult
from claystream.errors import (
    ApiError,
    ClaystreamError,
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from claystream.record_filters import Filter, Query
from claystream.record_types import Record, Response, Suggestion
from claystream.settings import (
    FloatMetadataProperty,
    IntegerMetadataProperty,
    LabelQuestion,
    MultiLabelQuestion,
    RankingQuestion,
    RatingQuestion,
    Settings,
    SpanQuestion,
    TaskDistribution,
    TermsMetadataProperty,
    TextField,
    TextQuestion,
    VectorField,
)
from claystream.training import prepare_for_training

__all__ = [
    "ApiError", "ClaystreamError", "Client", "Conflict", "Filter", "FloatMetadataProperty", "Forbidden",
    "IntegerMetadataProperty", "LabelQuestion", "LogResult", "MultiLabelQuestion", "NotFound", "Query",
    "RankingQuestion", "RatingQuestion", "Record", "Response", "Settings", "SpanQuestion", "Suggestion", "TaskDistribution", "TermsMetadataProperty", "TextField", "TextQuestion",
    "Unauthorized", "ValidationFailed", "VectorField", "prepare_for_training",
]
__version__ = "0.2.0"
