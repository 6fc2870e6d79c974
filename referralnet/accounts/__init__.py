"""Users, roles, network organizations, login and permissions."""
