"""An audit log's head, kept off the host, catches what the chain alone cannot: a cut or a rewrite."""

import pytest

from tasks.audit import AuditLog, check_head, head_text, parse_head, verify


def test_a_cut_or_a_rewritten_log_no_longer_matches_its_recorded_head(tmp_path):
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    for i in range(5):
        log.append("sent", n=i)
    head = log.head()
    whole = path.read_text()

    entries, problems = verify(path)
    assert problems == [] and check_head(entries, head) == [] and head["seq"] == 5

    path.write_text("".join(whole.splitlines(keepends=True)[:3]))  # cut short: the chain still holds
    entries, problems = verify(path)
    assert problems == [] and "cut short" in check_head(entries, head)[0]

    path.unlink()  # rewritten whole, with a valid chain of its own
    forged = AuditLog(path)
    for i in range(5):
        forged.append("sent", n=i * 10)
    entries, problems = verify(path)
    assert problems == [] and "rewritten" in check_head(entries, head)[0]


def test_a_head_is_read_and_written_as_seq_colon_hash():
    assert parse_head("7:" + "a" * 64) == {"seq": 7, "hash": "a" * 64}
    assert head_text({"seq": 7, "hash": "a" * 64}) == "7:" + "a" * 64
    assert parse_head(head_text({"seq": 12, "hash": "b" * 64})) == {"seq": 12, "hash": "b" * 64}
    for bad in ("7", "x:" + "a" * 64, "7:abc", "7:" + "g" * 64):
        with pytest.raises(ValueError, match="SEQ:HASH"):
            parse_head(bad)


def test_a_new_writer_continues_the_chain_from_the_logs_last_line_read_from_its_end(tmp_path):
    from tasks.audit import AuditLog, _last_entry, verify

    path = tmp_path / "audit.jsonl"
    first = AuditLog(path)
    for i in range(3000):  # longer than one 64 KiB block
        first.append("sent", execution_id="e1", method="fit", note="x" * (i % 50))
    head = first.head()

    again = AuditLog(path)  # a new role process of the same host

    assert again.head() == head
    assert _last_entry(path, block=7)["seq"] == head["seq"]  # blocks smaller than a line still find it whole
    again.append("end", execution_id="e1")
    entries, problems = verify(path)
    assert problems == [] and entries[-1]["seq"] == head["seq"] + 1
