"""Channels (D1-D5): every way a rating comes in. The unified evaluation page reached by a
signed link for one occasion (一事一评), its dynamic QR code and the self-service terminal jump
(``links``, ``api``, ``pages``); SMS and hotline ratings live beside them."""
