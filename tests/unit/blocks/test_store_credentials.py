"""The store's credential options, told apart from its plain ones (blocks/store.py)."""

import fsspec
import pytest

from blocks.store import OutputStore, credentials_secret, split_credentials


def test_s3_key_secret_and_token_are_credentials_the_endpoint_is_not():
    # Prepare
    options = {"key": "AKIA", "secret": "s3cr3t", "token": "session", "use_ssl": False,
               "client_kwargs": {"endpoint_url": "http://127.0.0.1:9000", "region_name": "eu-west-1"}}

    # Execute
    plain, credentials = split_credentials(options)

    # Assert
    assert credentials == {"key": "AKIA", "secret": "s3cr3t", "token": "session"}
    assert plain == {"use_ssl": False, "client_kwargs": {"endpoint_url": "http://127.0.0.1:9000",
                                                         "region_name": "eu-west-1"}}
    assert {**plain, **credentials} == options


def test_a_mapping_that_holds_a_credential_moves_whole():
    options = {"client_kwargs": {"endpoint_url": "http://s3", "aws_secret_access_key": "s3cr3t"}, "anon": False}

    plain, credentials = split_credentials(options)

    assert plain == {"anon": False}
    assert credentials == {"client_kwargs": {"endpoint_url": "http://s3", "aws_secret_access_key": "s3cr3t"}}


@pytest.mark.parametrize("name", ["password", "account_key", "client_secret", "sas_token", "credentials",
                                  "connection_string", "KEY"])
def test_other_file_systems_credential_names(name):
    assert split_credentials({name: "x"}) == ({}, {name: "x"})


def test_no_options_no_credentials():
    assert split_credentials({}) == ({}, {})


def test_the_secret_value_is_one_string_and_reads_back_as_the_options():
    # A dict value would be returned as it is by Prefect's block reads without secrets.
    secret = credentials_secret({"key": "AKIA", "secret": "s3cr3t"})

    assert isinstance(secret.value.get_secret_value(), str)
    assert "s3cr3t" not in repr(secret)
    assert secret.get() == {"key": "AKIA", "secret": "s3cr3t"}


def test_spec_adds_the_credentials_to_the_plain_options():
    store = OutputStore(url="s3://fedpe/outputs", storage_options={"client_kwargs": {"endpoint_url": "http://s3"}},
                        credentials=credentials_secret({"key": "AKIA", "secret": "s3cr3t"}))

    assert store.spec().storage_options == {"client_kwargs": {"endpoint_url": "http://s3"}, "key": "AKIA",
                                            "secret": "s3cr3t"}
    assert OutputStore(url="file:///tmp/store").spec().storage_options == {}


def test_configure_fsspec_lends_the_credentials_for_the_store_protocol_only(monkeypatch):
    # Prepare: a config of this test's own
    monkeypatch.setattr(fsspec.config, "conf", {"memory": {"other": 1}})
    store = OutputStore(url="s3://fedpe/outputs", storage_options={"client_kwargs": {"endpoint_url": "http://s3"}},
                        credentials=credentials_secret({"key": "AKIA", "secret": "s3cr3t"}))

    # Execute
    store.configure_fsspec()
    OutputStore(url="file:///tmp/store").configure_fsspec()

    # Assert: s3 gets the credentials, the plain options stay the block's, nothing else changes
    assert fsspec.config.conf == {"memory": {"other": 1}, "s3": {"key": "AKIA", "secret": "s3cr3t"}}


def test_credentials_that_are_not_an_object_are_refused():
    from prefect.blocks.system import Secret

    store = OutputStore(url="s3://fedpe/outputs", credentials=Secret(value="just-a-string"))

    with pytest.raises(ValueError, match="JSON object"):
        store.spec()
