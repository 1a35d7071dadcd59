"""Storage: every SQL statement of balkanwatch, behind `Store` (SQLite or PostgreSQL)."""
