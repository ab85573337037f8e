"""Running the service: settings checked at start-up, logs, metrics and health checks."""
