"""CouchDB Mango queries over JSON values: selectors, sort, skip, limit, fields.

Values that are not JSON objects are never matched (CouchDB stores them as
attachments). The document a selector sees carries ``_id`` = the key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError

_MISSING = object()


class QueryError(HarnessError):
    """A rich query string is not a valid Mango query."""


@dataclass(frozen=True)
class MangoQuery:
    selector: Mapping[str, Any]
    sort: tuple[tuple[str, bool], ...] = ()  # (field, descending)
    skip: int = 0
    limit: int | None = None
    fields: tuple[str, ...] = ()


def parse_query(text: str) -> MangoQuery:
    """Parse a Mango query JSON string (it must have a ``selector``)."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise QueryError(f"query is not JSON: {error}") from error
    if not isinstance(data, dict) or not isinstance(data.get("selector"), dict):
        raise QueryError("query must be a JSON object with a 'selector' object")
    _check_selector(data["selector"])
    sort: list[tuple[str, bool]] = []
    for item in data.get("sort", []):
        if isinstance(item, str):
            sort.append((item, False))
        elif isinstance(item, dict) and len(item) == 1:
            ((field, direction),) = item.items()
            if direction not in ("asc", "desc"):
                raise QueryError(f"sort direction {direction!r} is not asc or desc")
            sort.append((field, direction == "desc"))
        else:
            raise QueryError(f"sort item {item!r} is not a field or {{field: dir}}")
    limit = data.get("limit")
    skip = data.get("skip", 0)
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise QueryError(f"limit {limit!r} is not a non-negative integer")
    if not isinstance(skip, int) or skip < 0:
        raise QueryError(f"skip {skip!r} is not a non-negative integer")
    fields = data.get("fields", [])
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise QueryError("fields must be a list of field names")
    return MangoQuery(data["selector"], tuple(sort), skip, limit, tuple(fields))


def run_query(
    query: MangoQuery, rows: Iterable[tuple[str, bytes]]
) -> list[tuple[str, bytes]]:
    """The rows (key, value) the query selects, sorted, skipped, limited, projected."""
    return select(query, ((key, as_document(key, value)) for key, value in rows))


def select(
    query: MangoQuery, documents: Iterable[tuple[str, Mapping[str, Any] | None]]
) -> list[tuple[str, bytes]]:
    """:func:`run_query` over documents already parsed (``as_document``; None for a
    value that is not a JSON object). The documents are read, never changed, so a
    caller may hand the same ones to many queries."""
    matched: list[tuple[str, Mapping[str, Any]]] = []
    for key, document in documents:
        if document is not None and matches(query.selector, document):
            matched.append((key, document))
    for field, descending in reversed(query.sort):
        matched.sort(key=_sort_key(field), reverse=descending)
    end = None if query.limit is None else query.skip + query.limit
    selected = matched[query.skip : end]
    return [(key, _project(doc, query.fields)) for key, doc in selected]


def _sort_key(
    field: str,
) -> Callable[[tuple[str, Mapping[str, Any]]], tuple[Any, ...]]:
    def key(row: tuple[str, Mapping[str, Any]]) -> tuple[Any, ...]:
        return _collate(_lookup(row[1], field))

    return key


def as_document(key: str, value: bytes) -> dict[str, Any] | None:
    """The document a selector sees: the JSON object with ``_id`` = the key; None
    when the value is not a JSON object."""
    try:
        document = json.loads(value)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    return {"_id": key, **document}


def _project(document: Mapping[str, Any], fields: tuple[str, ...]) -> bytes:
    document = {k: v for k, v in document.items() if k != "_id"}
    if fields:
        document = {f: document[f] for f in fields if f in document}
    return json.dumps(document, separators=(",", ":")).encode()


def _lookup(document: Any, path: str) -> Any:
    value = document
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


# CouchDB collation: null < false < true < numbers < strings < arrays < objects.
def _collate(value: Any) -> tuple[Any, ...]:
    if value is _MISSING or value is None:
        return (0,)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, int | float):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    if isinstance(value, list):
        return (4, tuple(_collate(item) for item in value))
    return (5, tuple(sorted((k, _collate(v)) for k, v in value.items())))


def _compare(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def check(value: Any, argument: Any) -> bool:
        if value is _MISSING:
            return False
        return op(_collate(value), _collate(argument))

    return check


def _in(value: Any, argument: Any) -> bool:
    if value is _MISSING:
        return False
    if isinstance(value, list):
        return any(_collate(item) == _collate(a) for item in value for a in argument)
    return any(_collate(value) == _collate(a) for a in argument)


def _regex(value: Any, argument: Any) -> bool:
    return isinstance(value, str) and re.search(argument, value) is not None


def _elem_match(value: Any, argument: Any) -> bool:
    return isinstance(value, list) and any(
        _matches_value(item, argument) for item in value
    )


def _all(value: Any, argument: Any) -> bool:
    return isinstance(value, list) and all(_in(value, [a]) for a in argument)


_FIELD_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "$eq": _compare(lambda a, b: a == b),
    "$ne": _compare(lambda a, b: a != b),
    "$gt": _compare(lambda a, b: a > b),
    "$gte": _compare(lambda a, b: a >= b),
    "$lt": _compare(lambda a, b: a < b),
    "$lte": _compare(lambda a, b: a <= b),
    "$in": _in,
    "$nin": lambda value, argument: value is not _MISSING and not _in(value, argument),
    "$exists": lambda value, argument: (value is not _MISSING) == bool(argument),
    "$regex": _regex,
    "$size": lambda value, argument: isinstance(value, list) and len(value) == argument,
    "$all": _all,
    "$elemMatch": _elem_match,
    "$not": lambda value, argument: not _matches_value(value, argument),
}
_COMBINATORS = ("$and", "$or", "$nor", "$not")


def _check_selector(selector: Any) -> None:
    if not isinstance(selector, dict):
        raise QueryError(f"selector {selector!r} is not an object")
    for field, condition in selector.items():
        if field in ("$and", "$or", "$nor"):
            if not isinstance(condition, list):
                raise QueryError(f"{field} needs a list of selectors")
            for sub in condition:
                _check_selector(sub)
        elif field == "$not":
            _check_selector(condition)
        elif field.startswith("$"):
            raise QueryError(f"unknown operator {field!r}")
        elif isinstance(condition, dict):
            _check_condition(condition)


def _check_condition(condition: dict[str, Any]) -> None:
    for op, argument in condition.items():
        if not op.startswith("$"):
            if isinstance(argument, dict):
                _check_condition(argument)
            continue
        if op not in _FIELD_OPERATORS:
            raise QueryError(f"unknown operator {op!r}")
        if op in ("$in", "$nin", "$all") and not isinstance(argument, list):
            raise QueryError(f"{op} needs a list")
        if op == "$regex":
            try:
                re.compile(argument)
            except (re.error, TypeError) as error:
                raise QueryError(
                    f"$regex {argument!r} is not a regular expression"
                ) from error


def matches(selector: Mapping[str, Any], document: Any) -> bool:
    """Whether ``document`` satisfies a (top-level) selector."""
    for field, condition in selector.items():
        if field == "$and":
            ok = all(matches(sub, document) for sub in condition)
        elif field == "$or":
            ok = any(matches(sub, document) for sub in condition)
        elif field == "$nor":
            ok = not any(matches(sub, document) for sub in condition)
        elif field == "$not":
            ok = not matches(condition, document)
        else:
            ok = _matches_value(_lookup(document, field), condition)
        if not ok:
            return False
    return True


def _matches_value(value: Any, condition: Any) -> bool:
    if not isinstance(condition, dict):
        return _FIELD_OPERATORS["$eq"](value, condition)
    for op, argument in condition.items():
        if op in _FIELD_OPERATORS:
            if not _FIELD_OPERATORS[op](value, argument):
                return False
        elif op in _COMBINATORS:
            if not matches({op: argument}, value):
                return False
        elif not _matches_value(
            _lookup(value, op) if value is not _MISSING else _MISSING, argument
        ):
            return False
    return True
