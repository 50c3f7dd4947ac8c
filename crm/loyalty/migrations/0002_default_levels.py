"""The default member levels (普卡/银卡/金卡/钻石卡: net consumption over 12 months of 0 / 50,000 / 200,000 /
1,000,000 元, earning 1 / 1.2 / 1.5 / 2 points per 元) and the points rules (12-month window, rounding down,
points valid for 12 months). Both are edited in 系统管理 › 积分规则; this creates only what is missing."""

from decimal import Decimal

from django.db import migrations

LEVELS = [
    ("普卡", 0, Decimal("0.00"), Decimal("1.00")),
    ("银卡", 1, Decimal("50000.00"), Decimal("1.20")),
    ("金卡", 2, Decimal("200000.00"), Decimal("1.50")),
    ("钻石卡", 3, Decimal("1000000.00"), Decimal("2.00")),
]


def forwards(apps, schema_editor):
    MemberLevel = apps.get_model("loyalty", "MemberLevel")
    LoyaltySettings = apps.get_model("loyalty", "LoyaltySettings")
    if not MemberLevel.objects.exists():
        for name, rank, threshold, multiplier in LEVELS:
            MemberLevel.objects.create(name=name, rank=rank, threshold=threshold, multiplier=multiplier)
    LoyaltySettings.objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("loyalty", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
