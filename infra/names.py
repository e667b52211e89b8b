"""Physical names the program sets itself, made valid for any stack name Pulumi accepts, one per stack.

Pulumi stack names may hold letters, digits, `-`, `_` and `.`; AWS names are stricter (a Lambda layer
name has no `.`, a Glue database name no upper case or `-`). Replacing a character alone could make
two stacks one (`prod.eu` and `prod-eu`), so a name that had to change ends with a hash of the original.
"""

from __future__ import annotations

import hashlib
import re

HASH_CHARS = 8


def unique_name(raw: str, valid: str, max_length: int, replacement: str = "-") -> str:
    """`raw` if it is valid (every character in the class `valid`, short enough); otherwise every
    invalid character replaced and a hash of `raw` appended, within max_length."""
    if re.fullmatch(f"[{valid}]+", raw) and len(raw) <= max_length:
        return raw
    suffix = replacement + hashlib.sha256(raw.encode()).hexdigest()[:HASH_CHARS]
    cleaned = re.sub(f"[^{valid}]", replacement, raw)
    return cleaned[: max_length - len(suffix)] + suffix


def layer_name(raw: str) -> str:
    """Lambda: [a-zA-Z0-9-_]+, at most 140 characters."""
    return unique_name(raw, "a-zA-Z0-9_-", 140)


def glue_name(raw: str) -> str:
    """Glue: lower-case letters, digits and `_`, at most 255 characters. A name whose only invalid
    characters are hyphens keeps its plain form (`iot-traffic-pipeline-dev` -> `iot_traffic_pipeline_dev`):
    hyphen to underscore is one-to-one among names with no underscore of their own."""
    return unique_name(raw, "a-z0-9-", 255).replace("-", "_")
