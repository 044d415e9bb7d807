"""Annotated dependency aliases reading ``app.state.deps``."""

from __future__ import annotations

from typing import Annotated

from claystream_common.kafka.producer import EventProducer
from fastapi import Depends, Request

from claystream_monitor.adapters.mongo_store import MongoMonitorStore
from claystream_monitor.api.auth import Viewer, require_user, require_viewer
from claystream_monitor.bootstrap import Deps
from claystream_monitor.services.engine import MonitorEngine


async def get_deps(request: Request) -> Deps:
    return request.app.state.deps


async def get_producer(request: Request) -> EventProducer:
    return request.app.state.deps.producer


async def get_store(request: Request) -> MongoMonitorStore:
    return request.app.state.deps.store


async def get_engine(request: Request) -> MonitorEngine:
    return request.app.state.deps.engine


DepsDep = Annotated[Deps, Depends(get_deps)]
ProducerDep = Annotated[EventProducer, Depends(get_producer)]
StoreDep = Annotated[MongoMonitorStore, Depends(get_store)]
EngineDep = Annotated[MonitorEngine, Depends(get_engine)]
ViewerDep = Annotated[Viewer, Depends(require_viewer)]
UserDep = Annotated[Viewer, Depends(require_user)]
