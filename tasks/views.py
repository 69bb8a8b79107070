from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from tasks.models import Task


@login_required
def home(request):
    """The tenant's tasks; operators, who belong to no tenant, go to the admin site."""
    if request.tenant is None:
        return (
            redirect("admin:index")
            if request.user.is_superuser
            else render(request, "no_tenant.html", status=403)
        )
    recent_tasks = Task.objects.filter(tenant=request.tenant).select_related("host")[:50]
    return render(request, "tasks/home.html", {"tasks": recent_tasks})
