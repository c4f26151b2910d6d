"""Users, projects, memberships, roles, tokens, API keys and quotas."""
