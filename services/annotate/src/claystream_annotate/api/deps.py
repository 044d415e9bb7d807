"""Annotated dependency aliases reading ``app.state.deps``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from claystream_annotate.adapters.mongo_records import MongoRecordRepository
from claystream_annotate.bootstrap import Deps


def get_deps(request: Request) -> Deps:
    return request.app.state.deps


def get_records(request: Request) -> MongoRecordRepository:
    return request.app.state.deps.records


DepsDep = Annotated[Deps, Depends(get_deps)]
RecordsDep = Annotated[MongoRecordRepository, Depends(get_records)]
