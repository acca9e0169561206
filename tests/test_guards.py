"""Guards and retry points found on real projects (round-6 triage), each with its look-alike."""

from conftest import run_on

MODELS = """
from django.db import models

class Order(models.Model):
    status = models.CharField(max_length=10)

class Receipt(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE)
"""

ALCHEMY = """
from sqlalchemy.ext.asyncio import AsyncSession

class Balance:
    pass
"""


def codes_by_task(root, codes):
    return sorted(f"{(f.task or '').rsplit('.', 1)[-1]}:{f.code}" for f in run_on(root, codes).findings)


def test_an_exit_when_a_lookup_finds_something_is_a_dedupe_check(project):
    root = project(
        {
            "shop/__init__.py": "",
            "shop/models.py": MODELS,
            "shop/tasks.py": """
                from celery import shared_task
                from shop.models import Order, Receipt

                def find_receipt(order_id):
                    return Receipt.objects.filter(order_id=order_id).first()

                @shared_task(queue="q", expires=60)
                def already_done(order_id):
                    existing = find_receipt(order_id)
                    if existing is not None:
                        return
                    Receipt.objects.create(order_id=order_id)

                @shared_task(queue="q", expires=60)
                def not_found_is_a_precondition(order_id):
                    order = Order.objects.filter(pk=order_id).first()
                    if order is None:
                        return
                    Receipt.objects.create(order_id=order_id)

                @shared_task(queue="q", expires=60)
                def argument_lookup_is_not_stored_state(data):
                    if not data.get("order", {}).get("lines"):
                        return
                    Receipt.objects.create(order_id=data["order"]["id"])
            """,
        }
    )
    assert codes_by_task(root, {"JC101"}) == [
        "argument_lookup_is_not_stored_state:JC101",
        "not_found_is_a_precondition:JC101",
    ]


def test_a_context_manager_delegating_through_self_to_a_guarding_one(project):
    root = project(
        {
            "shop/__init__.py": "",
            "shop/models.py": MODELS,
            "shop/events.py": """
                import contextlib
                from shop.models import Order

                class EventService:
                    @contextlib.contextmanager
                    def handle(self, event_id):
                        event = Order.objects.get(pk=event_id)
                        if event.status == "handled":
                            raise RuntimeError("already handled")
                        yield event
                        Order.objects.filter(pk=event_id).update(status="handled")

                    @contextlib.contextmanager
                    def handle_stripe(self, event_id):
                        with self.handle(event_id) as event:
                            yield event

                events = EventService()
            """,
            "shop/tasks.py": """
                from celery import shared_task
                from shop.events import events
                from shop.models import Receipt

                @shared_task(queue="q", expires=60)
                def on_event(event_id):
                    with events.handle_stripe(event_id):
                        Receipt.objects.create(order_id=event_id)
            """,
        }
    )
    assert codes_by_task(root, {"JC101"}) == []


def test_row_locks_taken_by_a_helper_only_when_unconditional(project):
    root = project(
        {
            "shop/__init__.py": "",
            "shop/models.py": MODELS,
            "shop/tasks.py": """
                from celery import shared_task
                from django.db import transaction
                from shop.models import Order, Receipt

                def locked_orders():
                    return Order.objects.select_for_update()

                def orders(for_update=False):
                    query = Order.objects.all()
                    if for_update:
                        query = query.select_for_update()
                    return query

                @shared_task(queue="q", expires=60)
                def with_lock(order_id):
                    with transaction.atomic():
                        locked_orders().filter(pk=order_id, status="new").first()
                        Receipt.objects.create(order_id=order_id)

                @shared_task(queue="q", expires=60)
                def without_lock(order_id):
                    orders().filter(pk=order_id).first()
                    Receipt.objects.create(order_id=order_id)
            """,
        }
    )
    assert codes_by_task(root, {"JC101"}) == ["without_lock:JC101"]


def test_sqlalchemy_writes_are_rolled_back_before_a_retry_unless_committed(project):
    root = project(
        {
            "billing/__init__.py": "",
            "billing/tasks.py": """
                import dramatiq
                from sqlalchemy.ext.asyncio import AsyncSession

                from billing.models import Balance

                @dramatiq.actor(queue_name="billing", max_age=60_000)
                async def record(session: AsyncSession, amount):
                    session.add(Balance())

                @dramatiq.actor(queue_name="billing", max_age=60_000)
                async def record_and_commit(session: AsyncSession, amount):
                    session.add(Balance())
                    await session.commit()
            """,
            "billing/models.py": ALCHEMY,
        }
    )
    assert codes_by_task(root, {"JC301"}) == ["record_and_commit:JC301"]
    assert codes_by_task(root, {"JC101"}) == ["record:JC101", "record_and_commit:JC101"]


def test_a_bound_task_may_call_itself_anything(project):
    root = project(
        {
            "mail/__init__.py": "",
            "mail/tasks.py": """
                from celery import shared_task

                @shared_task(bind=True, queue="q", expires=60)
                def send_email(task, address):
                    try:
                        deliver(address)
                    except OSError as error:
                        raise task.retry(exc=error)

                def deliver(address):
                    pass
            """,
        }
    )
    from conftest import task_named

    retries = task_named(root, "send_email").option("retries")
    assert retries.value == 3 and "self.retry at mail/tasks.py:8" in retries.source


def test_posts_that_only_ask_are_not_effects(project):
    root = project(
        {
            "ml/__init__.py": "",
            "ml/tasks.py": """
                import requests
                from celery import shared_task

                SERVER = "http://fasttext:8000"

                def predict_language(text):
                    return requests.post(f"{SERVER}/lang", json=[text]).json()

                @shared_task(queue="q", expires=60)
                def detect(text):
                    predict_language(text)
                    requests.post(f"{SERVER}/predict?k=10", json=[text])
                    requests.post("http://search:9200/products/_search", json={"query": text})

                @shared_task(queue="q", expires=60)
                def notify(text):
                    requests.post(f"{SERVER}/messages", json=[text])
            """,
        }
    )
    assert codes_by_task(root, {"JC101"}) == ["notify:JC101"]


def test_countdowns_against_the_brokers_visibility_timeout(project):
    tasks = """
        from celery import Celery

        app = Celery("s", broker="{broker}")
        {options}

        @app.task(bind=True, queue="q", expires=60, time_limit=60)
        def remind(self, order_id):
            raise self.retry(countdown=5 * 3600)

        def later(order_id):
            remind.apply_async((order_id,), countdown=2 * 3600)
    """
    cases = [
        ("redis://r:6379/0", "", 2),
        ("redis://r:6379/0", 'app.conf.broker_transport_options = {"visibility_timeout": 43200}', 0),
        ("sqs://", 'app.conf.broker_transport_options = {"visibility_timeout": 9000}', 1),
        ("amqp://rabbit//", "", 0),  # RabbitMQ does not redeliver on a timer
    ]
    for broker, options, expected in cases:
        root = project({"s/__init__.py": "", "s/tasks.py": tasks.format(broker=broker, options=options)})
        found = [f for f in run_on(root, {"JC802"}).findings]
        assert len(found) == expected, (broker, options, [f.message for f in found])


def test_dependent_enqueues_unless_chained(project):
    root = project(
        {
            "r/__init__.py": "",
            "r/jobs.py": """
                from redis import Redis
                from rq import Queue

                queue = Queue("payments", connection=Redis())

                def capture(order_id):
                    pass

                def receipt(order_id):
                    pass

                def checkout(order_id):
                    queue.enqueue(capture, order_id)
                    queue.enqueue(receipt, order_id)

                def checkout_in_order(order_id):
                    first = queue.enqueue(capture, order_id)
                    queue.enqueue(receipt, order_id, depends_on=first)

                def unrelated(order_id, user_id):
                    queue.enqueue(capture, order_id)
                    queue.enqueue(receipt, user_id)
            """,
        }
    )
    found = run_on(root, {"JC701"}).findings
    assert [(f.location.line, f.code) for f in found] == [(14, "JC701")]  # the second enqueue of checkout()


def test_final_failure_handling_per_framework(project):
    tasks = """
        from huey import RedisHuey

        huey = RedisHuey("h")

        @huey.task(retries=3, retry_delay=10, timeout=60)
        def sync(x):
            return x
        {handler}
    """
    handlers = {
        "": 1,
        "\n@huey.signal()\ndef every_signal(signal, task, exc=None):\n    pass\n": 0,
        "\nfrom huey.signals import SIGNAL_ERROR\n\n@huey.signal(SIGNAL_ERROR)\ndef on_error(signal, task, exc=None):\n    pass\n": 0,
    }
    for handler, expected in handlers.items():
        root = project({"h/__init__.py": "", "h/tasks.py": tasks.replace("{handler}", handler.replace("\n", "\n        "))})
        found = run_on(root, {"JC603"}).findings
        assert len(found) == expected, handler
        if found:
            assert (found[0].location.path, found[0].location.line) == ("h/tasks.py", 3)  # at the Huey instance


def test_enqueues_in_loops_are_jc904_when_asked(project):
    root = project(
        {
            "s/__init__.py": "",
            "s/tasks.py": """
                from celery import shared_task

                @shared_task(queue="q", time_limit=60)
                def notify(user_id):
                    pass

                def fan_out(user_ids):
                    for user_id in user_ids:
                        notify.delay(user_id)
                    [notify.delay(u) for u in user_ids]
                    notify.delay(user_ids[0])
            """,
        }
    )
    assert all(f.code != "JC904" for f in run_on(root, None).findings)  # off by default
    assert [f.location.line for f in run_on(root, {"JC904"}).findings] == [9, 10]


def test_swallowed_exceptions_and_recorded_failures(project):
    root = project(
        {
            "s/__init__.py": "",
            "s/tasks.py": """
                import logging
                import requests
                from celery import shared_task

                log = logging.getLogger(__name__)

                @shared_task(queue="q", time_limit=60, acks_late=True)
                def only_logs(url):
                    try:
                        requests.get(url, timeout=5)
                    except Exception:
                        log.exception("failed")

                @shared_task(queue="q", time_limit=60, acks_late=True)
                def records_after(job):
                    try:
                        requests.get(job.url, timeout=5)
                    except Exception:
                        log.exception("failed")
                    job.status = "failed"
                    job.save()

                @shared_task(queue="q", time_limit=60, acks_late=True)
                def cleanup_only(url):
                    try:
                        requests.get(url, timeout=5)
                    finally:
                        try:
                            log.info("done")
                        except Exception:
                            log.warning("could not log")
            """,
        }
    )
    found = [(f.task.rsplit(".", 1)[-1], f.location.line) for f in run_on(root, {"JC601"}).findings]
    assert found == [("only_logs", 11)]


def test_a_sentry_integration_anywhere_handles_final_failures(project):
    tasks = {
        "s/__init__.py": "",
        "s/tasks.py": """
            from celery import Celery

            app = Celery("s")

            @app.task(autoretry_for=(ConnectionError,), queue="q", time_limit=60)
            def sync(x):
                return x
        """,
    }
    assert [f.code for f in run_on(project(tasks), {"JC603"}).findings] == ["JC603"]
    root = project(
        {**tasks, "s/monitoring.py": "import sentry_sdk\nfrom sentry_sdk.integrations.celery import CeleryIntegration\n\nsentry_sdk.init(integrations=[CeleryIntegration()])\n"}
    )
    assert run_on(root, {"JC603"}).findings == []


def test_enqueue_options_holding_dicts_do_not_break_jc701(project):
    root = project(
        {
            "r/__init__.py": "",
            "r/jobs.py": """
                from redis import Redis
                from rq import Queue

                queue = Queue("q", connection=Redis())

                def a(x):
                    pass

                def b(x):
                    pass

                def send(x):
                    queue.enqueue(a, x, meta={"source": "api"})
                    queue.enqueue(b, x, meta={"source": "api"})
            """,
        }
    )
    result = run_on(root, {"JC701"})
    assert result.notifications == []
    assert [f.location.line for f in result.findings] == [14]


def test_review_fixes_for_policy_rules(project):
    root = project(
        {
            "s/__init__.py": "",
            "s/tasks.py": """
                import dramatiq
                import requests
                from celery import Celery

                TWELVE_HOURS = 12 * 3600
                app = Celery("s", broker="redis://r:6379/0")
                app.conf.broker_transport_options = {"visibility_timeout": TWELVE_HOURS, "x": compute()}

                @app.task(queue="q", time_limit=60, acks_late=True)
                def later(job_id):
                    pass

                def schedule(job_id):
                    later.apply_async((job_id,), countdown=2 * 3600)

                @dramatiq.actor(queue_name="q")
                def work(x):
                    pass

                def send(x):
                    work.send_with_options(args=(x,), max_retries=None)

                @app.task(queue="q", time_limit=60, acks_late=True)
                def marks_done(job):
                    try:
                        requests.get(job.url, timeout=5)
                    except Exception:
                        pass
                    job.status = "done"
                    job.save()
            """,
        }
    )
    codes = sorted(f.code for f in run_on(root, {"JC802", "JC303", "JC601"}).findings)
    assert codes == ["JC303", "JC601"]  # the visibility timeout cannot be read here: JC802 stays silent


def test_retry_settings_on_a_bound_task_that_names_itself_task(project):
    root = project(
        {
            "m/__init__.py": "",
            "m/tasks.py": """
                from celery import shared_task

                @shared_task(bind=True, queue="q", time_limit=60, acks_late=True)
                def send(task, address):
                    try:
                        return address
                    except OSError as error:
                        raise task.retry(exc=error, countdown=0, max_retries=None)
            """,
        }
    )
    assert sorted(f.code for f in run_on(root, {"JC302", "JC303"}).findings) == ["JC302", "JC303"]


def test_round8_policy_review(project):
    root = project(
        {
            "k/__init__.py": "",
            "k/models.py": """
                from django.db import models

                class Alert(models.Model):
                    title = models.CharField(max_length=20)
            """,
            "k/tasks.py": """
                from celery import shared_task
                from django.db.models.signals import post_delete
                from django.dispatch import receiver

                from k.models import Alert

                retrying_task = shared_task(acks_late=True, autoretry_for=(Exception,), max_retries=3, time_limit=60)

                @retrying_task
                def process(alert_id):
                    return alert_id

                @shared_task(autoretry_for=(Exception,), max_retries=0, time_limit=60)
                def never_again(alert_id):
                    return alert_id

                @shared_task(bind=True, max_retries=3, time_limit=60)
                def deliver(self, alert_id):
                    if self.request.retries >= self.max_retries:
                        Alert.objects.filter(pk=alert_id).update(title="failed")
                    raise self.retry(countdown=10)

                def fan_out():
                    for pk in Alert.objects.values_list("pk", flat=True):
                        process.delay(pk)

                @receiver(post_delete, sender=Alert)
                def forget(sender, instance, **kwargs):
                    process.delay(instance.pk)
                    alert = Alert.objects.get(pk=instance.pk)
                    process.delay(alert)

                def relabel(alert_id, as_text):
                    current = Alert.objects.get(pk=alert_id)
                    if as_text:
                        current = str(alert_id)
                    process.delay(current)

                def create(alert):
                    try:
                        alert = Alert.objects.create(**alert)
                    except Exception:
                        process.delay(alert)
                        return
                    process.delay(alert)
            """,
        }
    )
    found = {(f.code, f.location.line) for f in run_on(root, {"JC304", "JC603", "JC902"}).findings}
    # the decorator kept in a name makes `process` a task that retries on Exception
    assert ("JC304", 7) in found
    assert not any(code == "JC304" and line > 7 for code, line in found)  # max_retries=0 retries nothing
    assert not any(code == "JC603" for code, _ in found)  # deliver handles its own last attempt
    # pks from values_list are not rows; in the except, `alert` may still be the dict passed in
    assert sorted(line for code, line in found if code == "JC902") == [31, 45]
    on_delete = next(f for f in run_on(root, {"JC902"}).findings if f.location.line == 31)
    assert "The row is being deleted: pass the values the job needs" in on_delete.message


def test_sleeps_the_deployment_configures_are_not_jc903(project):
    root = project(
        {
            "s/__init__.py": "",
            "s/tasks.py": """
                import os
                import time

                from celery import shared_task
                from django.conf import settings

                @shared_task(queue="q", time_limit=60)
                def batch(ids):
                    if (delay := settings.TEST_DELAY) > 0:
                        time.sleep(delay)
                    time.sleep(settings.PAUSE)
                    time.sleep(float(os.environ["PAUSE"]))
                    pause = 30
                    time.sleep(pause * 2)
            """,
        }
    )
    assert [f.location.line for f in run_on(root, {"JC903"}).findings] == [14]


def test_review_of_round8_guards(project):
    root = project(
        {
            "s/__init__.py": "",
            "s/helpers.py": """
                import requests

                def notify(url):
                    requests.post(url)
            """,
            "s/tasks.py": """
                import time

                import requests
                from celery import shared_task

                from s.celery import app
                from s.helpers import notify
                from s.models import Receipt

                @shared_task(queue="q", time_limit=60, expires=60)
                def when_found(order_id):
                    sent = Receipt.objects.filter(order_id=order_id).exists()
                    if not sent:
                        pass
                    else:
                        requests.post("https://x.example")  # runs when a record exists: no dedupe

                @shared_task(queue="q", time_limit=60, expires=60)
                def waits(confirm_wait):
                    time.sleep(confirm_wait)  # a parameter, not configuration

                @shared_task(queue="q", time_limit=60, expires=60)
                def relay(url):
                    notify(url)

                @app.task(queue="q", time_limit=60)
                def nightly():  # jobcheck: ignore[JC801] -- a sweep, late is fine
                    requests.post("https://x.example/sweep")
            """,
            "s/celery.py": """
                from celery import Celery

                app = Celery("s")
                app.conf.beat_schedule = {"nightly": {"task": "s.tasks.nightly", "schedule": 3600.0}}
            """,
            "s/models.py": """
                from django.db import models

                class Receipt(models.Model):
                    order_id = models.IntegerField()
            """,
        }
    )
    found = {(f.code, f.task.rsplit(".", 1)[-1]) for f in run_on(root, {"JC101", "JC903"}).findings}
    assert ("JC101", "when_found") in found
    assert ("JC903", "waits") in found
    beat = run_on(root, {"JC801"})
    # the beat entry's finding is in s/celery.py; the task's `def` line in s/tasks.py silences it
    assert [f.task for f in beat.findings] == [] and [s.finding.location.path for s in beat.suppressed] == ["s/celery.py"]


def test_options_switched_on_debug_take_their_production_value(project):
    """oncall: `max_retries=1 if settings.DEBUG else None` retries without limit in production."""
    root = project(
        {
            "o/__init__.py": "",
            "o/tasks.py": """
                from celery import shared_task
                from django.conf import settings

                @shared_task(bind=True, queue="q", time_limit=60, max_retries=1 if settings.DEBUG else None)
                def wipe(self, pk):
                    raise self.retry(countdown=10)

                @shared_task(bind=True, queue="q", time_limit=60, max_retries=None if settings.FEATURE else 3)
                def sync(self, pk):
                    raise self.retry(countdown=10)
            """,
        }
    )
    found = run_on(root, {"JC303"}).findings
    assert [(f.code, f.location.line) for f in found] == [("JC303", 4)] and "`wipe`" in found[0].message
