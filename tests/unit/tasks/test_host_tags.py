"""What a server host may write on the owner's MLflow run."""


def test_tags_a_server_host_sets_are_namespaced_and_cannot_touch_fedpes_own():
    from tasks.coordinator.reporter import host_tags

    tags = host_tags({"fedpe.owner": "mallory", "data.fingerprint.a": "ab", "bad name": "x", 7: "y",
                      "x" * 300: "too long"})

    assert tags == {"host.fedpe.owner": "mallory", "host.data.fingerprint.a": "ab"}
    assert host_tags("not a dict") == {} and len(host_tags({f"k{i}": i for i in range(500)})) == 100
