"""The tasks app's API (SPEC §6.1), by sub-domain: `assets` (tasks, hosts, gateways) and
`tickets` (gateway deliveries, tickets, schedules). The routes are in tasks/api_urls.py."""
