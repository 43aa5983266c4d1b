"""Secrets out of text: what may reach a log line, an error message or an answer."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"//[^/@\s]*@")


def redact_url(url: str) -> str:
    """``url`` with its credentials (``user:password@``) replaced: fit for messages."""
    return _USERINFO.sub("//***@", url)
