"""What several hosts share without a shared disk: the version store and re-index job leases."""
