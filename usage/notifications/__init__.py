"""Notifications (SPEC §7): alerts before a limit bites, and their delivery.

- `rules.py`: when an alert fires (pure functions: thresholds crossed, license ends, payload).
- `alerts.py`: raising an alert: the unique row, in the transaction that crossed it, with its
  deliveries enqueued in that same transaction; the receivers of the lower layers' signals.
- `channels.py`: endpoints (webhook, Slack), email on/off, mutes: the administrators' settings.
- `destinations.py`: which webhook URLs may be called (https, public addresses).
- `delivery.py`: one attempt of one delivery (email, signed webhook, Slack), logged.
- `jobs.py`: the procrastinate jobs (delivery with retries, the periodic sweep, stalled jobs).
- `sweep.py`: license ends and the tasks projection, checked by the periodic job.
- `selectors.py`: reads for the page and the API; `api.py`, `views.py`, `forms.py`, `admin.py`.
"""
