"""client.datasets / users / workspaces / limits and typed errors, against the real annotate service."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from claystream import (
    Client,
    Conflict,
    Forbidden,
    LabelQuestion,
    NotFound,
    Settings,
    TaskDistribution,
    TermsMetadataProperty,
    TextField,
    Unauthorized,
    ValidationFailed,
)


def settings() -> Settings:
    return Settings(fields=[TextField("text")], questions=[LabelQuestion("sentiment", ["pos", "neg"])],
                    metadata=[TermsMetadataProperty("genre")], guidelines="Label the sentiment.",
                    distribution=TaskDistribution(min_submitted=2))


def test_limits_come_from_the_servers(client: Client) -> None:
    assert client.limits("ingest")["max_records_per_request"] == 1000
    assert client.limits("annotate")["records_page_max"] == 200
    assert client.batch_size(5000) == 1000 and client.batch_size(10) == 10


def test_dataset_create_get_list_update_delete(client: Client, services: SimpleNamespace) -> None:
    name = f"d{uuid.uuid4().hex[:8]}"
    created = client.datasets.create(name, services.workspace, settings=settings())
    assert created.settings.distribution.min_submitted == 2 and created.settings.questions[0].labels == ["pos", "neg"]
    with pytest.raises(Conflict):
        client.datasets.create(name, services.workspace, settings=settings())
    fetched = client.datasets.get(name)
    assert fetched.settings.guidelines == "Label the sentiment." and fetched.progress == {"records": 0, "completed": 0}
    assert name in [d.name for d in client.datasets.list()] and client.datasets(name).name == name
    changed = settings()
    changed.guidelines = "New guidelines."
    fetched.update(changed)
    assert client.datasets.get(name).settings.guidelines == "New guidelines."
    fetched.delete()
    with pytest.raises(NotFound):
        client.datasets.get(name)


def test_bad_settings_are_a_validation_error(client: Client) -> None:
    bad = Settings(fields=[TextField("text")], questions=[LabelQuestion("sentiment", ["only-one"])])
    with pytest.raises(ValidationFailed) as caught:
        client.datasets.create(f"d{uuid.uuid4().hex[:8]}", settings=bad)
    assert "label" in str(caught.value)


def test_admin_keys_see_workspaces_but_never_manage_people_or_keys(client: Client, services: SimpleNamespace, owner: Client) -> None:
    """People and API keys are managed by signed-in admins, owners and the service token, never by an API key
    (SECURITY.md): a leaked key cannot mint users or keys that outlive it."""
    assert services.workspace in client.workspaces.list()
    with pytest.raises(Forbidden):
        client.workspaces.create("another")  # owners only
    with pytest.raises(Forbidden):
        client.users.create(f"u{uuid.uuid4().hex[:8]}", "a-long-password-1", role="annotator")
    with pytest.raises(Forbidden):
        client.users.list()
    with pytest.raises(Forbidden):
        client.workspaces.create_api_key("reader", role="annotator")
    with pytest.raises(NotFound):
        client.users.list("not-mine")
    key = owner.workspaces.create_api_key("reader", role="annotator")
    with Client(services.ingest, key["api_key"], annotate_url=services.annotate) as reader:
        assert reader.workspace == services.workspace and reader.datasets.list() is not None
        with pytest.raises(Forbidden):
            reader.users.list()


def test_a_wrong_key_is_unauthorized(services: SimpleNamespace) -> None:
    with Client(services.ingest, "cs_0000_wrong", annotate_url=services.annotate) as wrong:
        with pytest.raises(Unauthorized):
            wrong.datasets.list("sdk")
