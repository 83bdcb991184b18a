"""Business systems: scoped credentials and HMAC-SM3 signed requests."""
