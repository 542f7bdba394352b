"""Stripe's form encoding: `a[b][0][c]=v` pairs into nested dicts and lists, and back.

The SDK encodes nested params with brackets (`metadata[plan]=pro`, `line_items[0][price]=...`,
`lookup_keys[0]=a`; browsers and curl users also write `lookup_keys[]=a`). Dicts whose keys
are all indexes become lists in index order. Values stay strings; callers convert.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")


class FormError(ValueError):
    """A parameter name that is not valid bracket syntax."""


def parse_form(raw: bytes | str) -> dict[str, Any]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    root: dict[str, Any] = {}
    append_counters: dict[int, int] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        match = _KEY.match(key)
        if match is None:
            raise FormError(f"Invalid parameter name: {key}")
        parts = [match.group(1), *_PART.findall(match.group(2))]
        node: dict[str, Any] = root
        for i, part in enumerate(parts):
            if part == "":  # `a[]`: the next index of this container
                index = append_counters.get(id(node), 0)
                append_counters[id(node)] = index + 1
                part = str(index)
            if i == len(parts) - 1:
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise FormError(f"Invalid parameter name: {key} (conflicts with a plain value)")
                node = child
    return _listify(root)


def _listify(node: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        out[key] = _convert(value)
    return out


def _convert(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    converted = {k: _convert(v) for k, v in value.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def encode_form(params: dict[str, Any]) -> list[tuple[str, str]]:
    """The pairs the SDK would send for `params` (used by tests and the hosted pages)."""
    pairs: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}[{k}]", v)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(f"{prefix}[{i}]", v)
        elif isinstance(value, bool):
            pairs.append((prefix, "true" if value else "false"))
        elif value is not None:
            pairs.append((prefix, str(value)))

    for key, value in params.items():
        walk(key, value)
    return pairs
