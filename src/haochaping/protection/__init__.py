"""Abuse protection: rate limits, body size limits, trusted proxies."""
