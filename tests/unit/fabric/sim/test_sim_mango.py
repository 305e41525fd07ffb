"""Mango rich queries: operators, nested fields, sort, skip, limit, fields."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.fabric.sim._mango import QueryError, parse_query, run_query

DOCS: dict[str, Any] = {
    "r1": {"type": "rec", "amount": 5, "party": {"id": "p1"}, "tags": ["a", "b"]},
    "r2": {"type": "rec", "amount": 12.5, "party": {"id": "p2"}, "tokenId": None},
    "r3": {"type": "rec", "amount": 30, "party": {"id": "p1"}, "tokenId": "0x1:1"},
    "f1": {"type": "factor", "year": "2019", "name": "eGrid MRO"},
}
ROWS = [(key, json.dumps(doc).encode()) for key, doc in DOCS.items()] + [
    ("raw", b"not json")
]


def keys(selector: dict[str, Any], **extra: Any) -> list[str]:
    query = parse_query(json.dumps({"selector": selector, **extra}))
    return [key for key, _ in run_query(query, ROWS)]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ({"type": "rec"}, ["r1", "r2", "r3"]),
        ({"amount": {"$eq": 5}}, ["r1"]),
        ({"amount": {"$ne": 5}}, ["r2", "r3"]),
        ({"amount": {"$gt": 5}}, ["r2", "r3"]),
        ({"amount": {"$gte": 12.5}}, ["r2", "r3"]),
        ({"amount": {"$lt": 12.5}}, ["r1"]),
        ({"amount": {"$lte": 12.5}}, ["r1", "r2"]),
        ({"amount": {"$in": [5, 30]}}, ["r1", "r3"]),
        ({"amount": {"$nin": [5, 30]}}, ["r2"]),
        ({"tags": {"$in": ["b"]}}, ["r1"]),
        ({"tokenId": {"$exists": True}}, ["r2", "r3"]),
        ({"tokenId": {"$exists": False}}, ["r1", "f1"]),
        ({"tokenId": None}, ["r2"]),
        ({"name": {"$regex": "^eGrid"}}, ["f1"]),
        ({"party.id": "p1"}, ["r1", "r3"]),
        ({"party": {"id": "p2"}}, ["r2"]),
        ({"$and": [{"type": "rec"}, {"amount": {"$gt": 10}}]}, ["r2", "r3"]),
        ({"$or": [{"amount": 5}, {"year": "2019"}]}, ["r1", "f1"]),
        ({"$not": {"type": "rec"}}, ["f1"]),
        ({"amount": {"$not": {"$gt": 10}}}, ["r1", "f1"]),
        ({"$nor": [{"type": "rec"}]}, ["f1"]),
        ({"tags": {"$size": 2}}, ["r1"]),
        ({"tags": {"$all": ["a", "b"]}}, ["r1"]),
        ({"tags": {"$elemMatch": {"$eq": "b"}}}, ["r1"]),
        ({"_id": {"$gte": "r2"}}, ["r2", "r3"]),
        ({"amount": {"$gt": 1, "$lt": 20}}, ["r1", "r2"]),
    ],
    ids=[
        "implicit-eq",
        "eq",
        "ne",
        "gt",
        "gte",
        "lt",
        "lte",
        "in",
        "nin",
        "in-array-field",
        "exists",
        "not-exists",
        "null",
        "regex",
        "dotted-nested",
        "object-nested",
        "and",
        "or",
        "not-selector",
        "not-condition",
        "nor",
        "size",
        "all",
        "elem-match",
        "id",
        "two-conditions",
    ],
)
def test_selector(selector: dict[str, Any], expected: list[str]) -> None:
    assert sorted(keys(selector)) == sorted(expected)


def test_sort_skip_limit() -> None:
    selector = {"type": "rec"}

    assert keys(selector, sort=[{"amount": "desc"}]) == ["r3", "r2", "r1"]
    assert keys(selector, sort=["amount"], skip=1, limit=1) == ["r2"]


def test_sort_by_two_fields() -> None:
    result = keys({"type": "rec"}, sort=[{"party.id": "asc"}, {"amount": "desc"}])

    assert result == ["r3", "r1", "r2"]


def test_fields_projection() -> None:
    query = parse_query(json.dumps({"selector": {"amount": 5}, "fields": ["amount"]}))

    assert run_query(query, ROWS) == [("r1", b'{"amount":5}')]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("not json", "not JSON"),
        ('{"sort": []}', "'selector'"),
        ('{"selector": {"a": {"$near": 1}}}', "unknown operator"),
        ('{"selector": {"$xor": []}}', "unknown operator"),
        ('{"selector": {"a": {"$in": 3}}}', "needs a list"),
        ('{"selector": {"a": {"$regex": "("}}}', "regular expression"),
        ('{"selector": {}, "limit": -1}', "limit"),
        ('{"selector": {}, "sort": [{"a": "up"}]}', "sort direction"),
        ('{"selector": {"$or": {"a": 1}}}', "needs a list"),
    ],
    ids=[
        "not-json",
        "no-selector",
        "bad-operator",
        "bad-combinator",
        "in-not-list",
        "bad-regex",
        "negative-limit",
        "bad-sort",
        "or-not-list",
    ],
)
def test_bad_queries(text: str, words: str) -> None:
    with pytest.raises(QueryError, match=words):
        parse_query(text)
