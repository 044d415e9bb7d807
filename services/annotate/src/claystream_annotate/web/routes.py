"""The HTML side of annotate, served at the service root: ``router`` gathers every page."""

from __future__ import annotations

from fastapi import APIRouter

from claystream_annotate.web.pages import admin, annotate, auth, bulk, datasets, metrics, similar

router = APIRouter(include_in_schema=False)
for module in (auth, datasets, annotate, similar, bulk, admin, metrics):
    router.include_router(module.router)
