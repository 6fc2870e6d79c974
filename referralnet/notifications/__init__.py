"""Notifications through a transactional outbox: a change and its messages commit together;
`flask notifications deliver` sends them later, exactly once."""
