from django.db import migrations


def create_default_aliases(apps, schema_editor):
    """Every email account sends from its own address: give existing accounts that alias."""
    Account = apps.get_model("inboxes", "Account")
    Alias = apps.get_model("inboxes", "Alias")
    have = set(Alias.objects.filter(is_default=True).values_list("account_id", flat=True))
    Alias.objects.bulk_create(
        Alias(
            organization_id=account.organization_id,
            account=account,
            address=account.address,
            name=account.display_name,
            is_default=True,
        )
        for account in Account.objects.filter(kind__in=["imap", "gmail", "office365"]).exclude(id__in=have)
    )


class Migration(migrations.Migration):
    dependencies = [("inboxes", "0008_email_out")]

    operations = [migrations.RunPython(create_default_aliases, migrations.RunPython.noop)]
