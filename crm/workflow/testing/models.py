from django.db import models

from crm.workflow.registry import FormModel


class SampleRequest(FormModel):
    subject = models.CharField("事由", max_length=100)
    amount = models.PositiveIntegerField("金额", default=0)
    note = models.CharField("备注", max_length=200, blank=True)
    effects = models.PositiveIntegerField("效果执行次数", default=0, editable=False)

    class Meta:
        verbose_name = "测试申请"

    def __str__(self) -> str:
        return self.subject
