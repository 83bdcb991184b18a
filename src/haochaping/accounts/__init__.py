"""Officials' accounts, roles bound to catalogue scopes, console sessions."""
