"""API users the API tests share: two plain users and an admin, new for each test module."""

import pytest
from federation_helpers import api_client


@pytest.fixture(scope="module")
def alice(stack):
    with api_client(stack, "alice") as client:
        yield client


@pytest.fixture(scope="module")
def bob(stack):
    with api_client(stack, "bob") as client:
        yield client


@pytest.fixture(scope="module")
def admin(stack):
    with api_client(stack, "admin", admin=True) as client:
        yield client
