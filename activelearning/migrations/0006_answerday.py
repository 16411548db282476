"""The daily roll-up of answers, back-filled from the answers already stored."""
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def back_fill(apps, schema_editor):
    from activelearning.answer_days import rebuild

    rebuild(apps)


class Migration(migrations.Migration):

    dependencies = [
        ('activelearning', '0005_trainingjob_heartbeat'),
        ('annotations', '0007_guide_decline_reason'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='AnswerDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('answers', models.IntegerField(default=0, help_text='Answers that are not gold checks.')),
                ('gold_checks', models.IntegerField(default=0)),
                ('gold_score_total', models.FloatField(default=0.0, help_text="Sum of the gold checks' scores.")),
                ('timed', models.IntegerField(default=0, help_text='Answers, gold checks included, that carry a duration.')),
                ('duration_ms_total', models.BigIntegerField(default=0)),
                ('reviewed', models.IntegerField(default=0, help_text='Review decisions (approve, send back, correct) on these answers.')),
                ('overruled', models.IntegerField(default=0, help_text='Of those, the decisions that sent back or corrected.')),
                ('annotator', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('project', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='annotations.project')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('project', 'annotator', 'day'), name='unique_answer_day')],
            },
        ),
        migrations.RunPython(back_fill, migrations.RunPython.noop),
    ]
