"""The usage banner on every page, for tenant administrators only (SPEC §5.2): two small
queries (`plan_usage_with_projections`), whatever the data size, once per request."""

from usage.plan import banner_for, plan_usage_with_projections


def usage_banner(request) -> dict:
    if getattr(request, "tenant", None) is None or not request.user.is_staff:
        return {}
    if not hasattr(request, "usage_plan"):  # cached: one computation per request
        request.usage_plan = plan_usage_with_projections(request.tenant)
    return {"usage_banner": banner_for(request.usage_plan)}
