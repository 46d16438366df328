"""A round's one shape (tasks.rounds): the record of an entry, its projection to metric names, the
CSV of those names, and the rounds stored one object each and read back through one reader."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from blocks.store import StoreSpec
from tasks.conventions import ROUNDS_DIR, round_file
from tasks.rounds import RoundRecord, flat_metrics, metric_key, read_rounds, rounds_csv, tracked_metrics, write_round


def _entry(number: int, **extra) -> dict:
    """A round's entry as the server role sends it (tasks/host/server.py)."""
    return {"round": number, "clients": ["hospital-a", "hospital.b"], "dropped": ["hospital-c"],
            "train_loss": 0.5, "round_ms": 4.2, "ended_at": 1_700_000_000.0, "epsilon": None,
            "accuracy": 0.8, "loss": 0.4, "num_examples": 300,
            "per_client": {"hospital-a": {"accuracy": 0.75, "loss": 0.45, "num_examples": 100},
                           "hospital.b": {"accuracy": 0.85, "loss": 0.35, "num_examples": 200}}, **extra}


@pytest.fixture
def store(tmp_path) -> StoreSpec:
    return StoreSpec(url=tmp_path.as_uri())


def test_the_record_keeps_the_numbers_that_measure_the_model_pooled_and_per_client():
    record = RoundRecord.from_entry(_entry(3, stopped=True, note="x"))

    assert record.round == 3
    assert record.metrics == {"train_loss": 0.5, "round_ms": 4.2, "accuracy": 0.8, "loss": 0.4, "num_examples": 300}
    assert record.per_client["hospital.b"] == {"accuracy": 0.85, "loss": 0.35, "num_examples": 200}
    assert (record.clients, record.dropped) == (["hospital-a", "hospital.b"], ["hospital-c"])


def test_the_projection_names_the_pooled_metrics_as_they_are_and_each_clients_under_its_host():
    flat = flat_metrics(RoundRecord.from_entry(_entry(1)))

    assert list(flat)[:5] == ["train_loss", "round_ms", "accuracy", "loss", "num_examples"]
    assert flat["client.hospital-a.loss"] == 0.45 and flat["client.hospital.b.accuracy"] == 0.85
    assert "ended_at" not in flat and "round" not in flat and "epsilon" not in flat
    assert {metric_key(name) for name in flat} == {"train_loss", "round_ms", "accuracy", "loss", "num_examples"}


def test_a_row_has_no_nan_and_reads_back_as_the_same_record():
    record = RoundRecord.from_entry(_entry(2, loss=math.nan, per_client={"a": {"loss": math.inf, "f1": 0.5}}))

    row = record.row()
    again = RoundRecord.from_row(json.loads(json.dumps(row, allow_nan=False)))

    assert row["metrics"]["loss"] is None and row["per_client"] == {"a": {"loss": None, "f1": 0.5}}
    assert set(row) == {"round", "metrics", "per_client", "clients", "dropped"}
    assert again.row() == row


def test_an_entry_without_an_integer_round_is_not_a_round():
    for bad in ({}, {"round": "1"}, {"round": True}, {"round": 1.0}):
        with pytest.raises(ValueError, match="not a round"):
            RoundRecord.from_entry(bad)


def test_the_csv_has_the_projections_names_as_columns_and_blanks_where_a_round_has_no_number():
    records = [RoundRecord.from_entry(_entry(1)),
               RoundRecord.from_entry(_entry(2, loss=math.nan, per_client={"hospital-a": {"loss": 0.3}}))]

    rows = list(csv.DictReader(io.StringIO(rounds_csv(records))))

    assert list(rows[0]) == ["round", *flat_metrics(records[0]), "clients", "dropped"]
    assert rows[1]["loss"] == "" and rows[1]["client.hospital.b.loss"] == "" and rows[1]["client.hospital-a.loss"] == "0.3"
    assert rows[0]["clients"] == "hospital-a;hospital.b" and rows[0]["num_examples"] == "300"


def test_each_round_is_its_own_object_read_back_in_order_and_after_a_round(store):
    for number in (2, 1, 10):
        write_round(store, "e1", _entry(number))

    assert store.list_files("e1", ROUNDS_DIR) == ["00001.json", "00002.json", "00010.json"]
    assert [e["round"] for e in read_rounds(store, "e1")] == [1, 2, 10]
    assert [e["round"] for e in read_rounds(store, "e1", after=2)] == [10]
    assert read_rounds(store, "e1")[0] == json.loads(json.dumps(_entry(1)))
    assert read_rounds(store, "nothing-yet") == []


def test_a_round_read_once_is_not_read_again_and_new_ones_are_seen(store):
    write_round(store, "e1", _entry(1))
    cache: dict[int, dict] = {}
    first = read_rounds(store, "e1", cache=cache)
    store.write_bytes(b"changed behind the cache", "e1", ROUNDS_DIR, round_file(1))
    write_round(store, "e1", _entry(2))

    again = read_rounds(store, "e1", cache=cache)

    assert again[0] is first[0] and [e["round"] for e in again] == [1, 2]
    assert set(cache) == {1, 2}


def test_what_is_not_a_round_is_skipped(store, caplog):
    write_round(store, "e1", _entry(1))
    store.write_bytes(b"not json", "e1", ROUNDS_DIR, round_file(2))
    store.write_bytes(json.dumps(_entry(7)).encode(), "e1", ROUNDS_DIR, round_file(3))  # another round's
    store.write_bytes(b"{}", "e1", ROUNDS_DIR, "notes.txt")

    assert [e["round"] for e in read_rounds(store, "e1")] == [1]
    assert "not a round" in caplog.text


def test_mlflow_gets_every_pooled_metric_and_of_each_client_its_loss_and_headline_quality():
    record = RoundRecord.from_entry({"round": 3, "loss": 0.4, "accuracy": 0.9, "f1": 0.8, "per_client": {
        "h1": {"loss": 0.5, "accuracy": 0.85, "f1": 0.7, "num_examples": 40},
        "h2": {"loss": 0.3, "concordance": 0.7, "precision": 0.6}}})
    assert tracked_metrics(record) == {"loss": 0.4, "accuracy": 0.9, "f1": 0.8,
                                       "client.h1.loss": 0.5, "client.h1.accuracy": 0.85,
                                       "client.h2.loss": 0.3, "client.h2.concordance": 0.7}
    assert set(tracked_metrics(record)) <= set(flat_metrics(record))
