"""Live fan-out: channel names, the per-process hub, subscription resolvers."""
