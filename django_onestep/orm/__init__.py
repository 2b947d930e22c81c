"""ORM-backed implementations of the core contracts: state and cursor stores, dead
letters, metrics windows and heartbeats, and the database thread they share."""
