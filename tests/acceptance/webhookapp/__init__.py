"""An installed app whose tasks.py declares webhooks (acceptance tests under real servers)."""
