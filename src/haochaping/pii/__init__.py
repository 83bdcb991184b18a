"""Raters' personal data at rest: SM4-GCM encryption with key ids, blind indexes (C9)."""
