from ingest_stack import ingest_server  # noqa: F401 - the module-scoped fixture
