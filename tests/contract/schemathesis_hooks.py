"""Schemathesis hooks for the contract suite (loaded through SCHEMATHESIS_HOOKS).

The fuzzer draws `Idempotency-Key` values from a small space and reuses them across bodies and
across a create, its delete and the next create. The contract answers such reuse on purpose (a
422 for another body, the stored 201 replayed after a delete): right, but not what the generic
checks expect. A key that is valid becomes unique per request, so the checks see ordinary
creates; invalid keys still reach the service as drawn. Reuse itself is tested in
test_idempotency.py.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import schemathesis

VALID_KEY = re.compile(r"[!-~](?:[ -~]{0,253}[!-~])?")


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    key = (case.headers or {}).get("Idempotency-Key")
    if not isinstance(key, str):
        return
    meta = getattr(case, "meta", None)
    positive = meta is None or meta.generation.mode.name == "POSITIVE"
    # A key drawn as valid is not always valid on the wire (Hypothesis lets a pattern's `$` match
    # before a final newline; the stateful phase once sent one the pattern refuses): keep only
    # its printable ASCII, so the key that goes out is valid for certain, and unique.
    if VALID_KEY.fullmatch(key) or positive:
        printable = "".join(char for char in key if " " <= char <= "~").strip()[:200]
        case.headers["Idempotency-Key"] = f"{printable or 'key'}-{uuid.uuid4().hex}"
