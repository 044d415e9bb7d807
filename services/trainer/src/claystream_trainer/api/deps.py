"""Annotated dependency aliases reading ``app.state.deps``."""

from __future__ import annotations

from typing import Annotated

from claystream_common.kafka.producer import EventProducer
from fastapi import Depends, Request

from claystream_trainer.bootstrap import Deps


def get_deps(request: Request) -> Deps:
    return request.app.state.deps


def get_producer(request: Request) -> EventProducer:
    return request.app.state.deps.producer


DepsDep = Annotated[Deps, Depends(get_deps)]
ProducerDep = Annotated[EventProducer, Depends(get_producer)]
