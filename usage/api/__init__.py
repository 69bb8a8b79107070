"""The usage API (SPEC §6.1), one module per sub-domain.

- `events.py`: usage events in (their input serializer validates them);
- `activity.py`: the activity of a range out; `export.py`: the CSV export;
- `models.py`: LLM models and pricing plans; `plan.py`: the Plan-usage card;
- `ranges.py`, `fields.py`: the query range and the strict JSON fields they share.
"""
