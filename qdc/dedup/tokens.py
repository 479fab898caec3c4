"""Moved to `qdc._native.tokens` (importable without the qdc.dedup package); the names stay here too."""

from qdc._native.tokens import ASCII_LOWER, BLOCK_TOKENS, hash_tokens, joined_text, spans, text_buffer, xxh3_spans

__all__ = ["ASCII_LOWER", "BLOCK_TOKENS", "hash_tokens", "joined_text", "spans", "text_buffer", "xxh3_spans"]
