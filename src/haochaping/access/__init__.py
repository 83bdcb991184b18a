"""Who may call what: principals, scopes and the access rule of every route."""
