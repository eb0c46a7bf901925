"""The watcher: health for cron and monitoring systems, alerts, the heartbeat and the watch loop."""
