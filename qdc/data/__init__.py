"""Model files shipped with qdc (JSON only: loading them runs no code)."""
