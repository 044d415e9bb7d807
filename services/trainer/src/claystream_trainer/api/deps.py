"""Annotated dependency aliases reading ``app.state.deps``."""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from claystream_common.kafka.producer import EventProducer
from fastapi import Depends, Request

from claystream_trainer.bootstrap import Deps


async def get_deps(request: Request) -> Deps:
    return request.app.state.deps


async def get_producer(request: Request) -> EventProducer:
    return request.app.state.deps.producer


class ServingDeps(Protocol):
    """What predict needs: the trainer's Deps and the predict role's both have it."""

    settings: Any
    mongo: Any
    ports: Any  # .specs, .publisher, .registry
    champions: Any


DepsDep = Annotated[Deps, Depends(get_deps)]
ServingDepsDep = Annotated[ServingDeps, Depends(get_deps)]
ProducerDep = Annotated[EventProducer, Depends(get_producer)]
