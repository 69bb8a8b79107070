from django.db import migrations, models


def fill_applied_by_name(apps, schema_editor) -> None:
    """Name the applier of licenses applied before the name was stored: the audit record's
    name (the username as it was at apply time), else the user's username; no user stays ""."""
    License = apps.get_model("licensing", "License")
    LicenseAuditRecord = apps.get_model("licensing", "LicenseAuditRecord")
    audit_names = dict(
        LicenseAuditRecord.objects.filter(action="applied")
        .exclude(actor_name="")
        .values_list("license_id", "actor_name")
    )
    for license in License.objects.filter(applied_by_name="").select_related("applied_by"):
        name = audit_names.get(license.pk) or (
            license.applied_by.username if license.applied_by_id is not None else ""
        )
        if name:
            License.objects.filter(pk=license.pk).update(applied_by_name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("licensing", "0002_license_audit"),
    ]

    operations = [
        migrations.AddField(
            model_name="license",
            name="applied_by_name",
            field=models.CharField(blank=True, max_length=150),
        ),
        migrations.RunPython(fill_applied_by_name, migrations.RunPython.noop, elidable=True),
    ]
