"""Effect summaries: effects found through helpers, methods and base classes; look-alikes not."""

import pytest

from conftest import run_on
from jobcheck.analysis.effects import EffectAnalysis, guard_frames, in_loop, transaction_frames

MODELS = """
from django.db import models


class Order(models.Model):
    status = models.CharField(max_length=20)
    paid_at = models.DateTimeField(null=True)
    attempts = models.IntegerField(default=0)


class Receipt(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE)
"""

SERVICES = {
    "shop/__init__.py": "",
    "shop/models.py": MODELS,
    "shop/services/__init__.py": "",
    # level 1 -> level 2 -> level 3, across three modules
    "shop/services/billing.py": """
        from shop.models import Order
        from shop.services import gateway

        def fulfil(order_id):
            order = Order.objects.get(pk=order_id)
            gateway.charge(order)
            return order
    """,
    "shop/services/gateway.py": """
        import requests
        from shop.services.mailer import send_receipt

        def charge(order):
            requests.post("https://pay.example/charges", json={"order": order.pk})
            send_receipt(order)
    """,
    "shop/services/mailer.py": """
        from django.core.mail import send_mail
        from shop.models import Receipt

        def send_receipt(order):
            Receipt.objects.create(order=order)
            send_mail("Receipt", "Thanks", "shop@example.com", ["customer@example.com"])
    """,
}


def effects_of(root, name):
    result = run_on(root, {"JC001"})
    analysis = EffectAnalysis(result.project)
    [task] = [t for t in result.project.tasks if t.qualname.rsplit(".", 1)[-1] == name]
    return analysis.task_effects(task), analysis


def summary(effects):
    return sorted((e.kind, e.api, len(e.chain)) for e in effects)


def test_effects_through_three_levels_of_helpers_across_modules(project):
    root = project(
        {
            **SERVICES,
            "shop/tasks.py": """
                from celery import shared_task
                from shop.services.billing import fulfil

                @shared_task
                def fulfil_order(order_id):
                    fulfil(order_id)
            """,
        }
    )
    effects, _ = effects_of(root, "fulfil_order")
    assert summary(effects) == [
        ("db-write", "Receipt.objects.create", 3),
        ("external", "django.core.mail.send_mail", 3),
        ("external", "requests.post", 2),
    ]
    post = [e for e in effects if e.api == "requests.post"][0]
    assert [site.path for site in post.chain] == ["shop/tasks.py", "shop/services/billing.py"]
    assert post.location.path == "shop/services/gateway.py"
    assert (post.location.line, post.chain[0].line) == (5, 6)


def test_self_methods_and_project_base_classes(project):
    root = project(
        {
            **SERVICES,
            "shop/base.py": """
                import celery
                from shop.models import Order

                class OrderTask(celery.Task):
                    def load(self, order_id):
                        return Order.objects.get(pk=order_id)

                    def mark_paid(self, order):
                        Order.objects.filter(pk=order.pk).update(status="paid")
            """,
            "shop/tasks.py": """
                from shop.base import OrderTask
                from shop.services.gateway import charge

                class CaptureOrder(OrderTask):
                    name = "shop.capture"

                    def run(self, order_id):
                        order = self.load(order_id)
                        charge(order)
                        self.mark_paid(order)
                        order.attempts = 0
                        order.save()  # typed through what self.load() returns
            """,
        }
    )
    effects, _ = effects_of(root, "CaptureOrder")
    assert ("db-write", "Order.objects.update", 1) in summary(effects)  # base-class method via self
    assert ("db-write", "Order.save", 0) in summary(effects)
    assert ("external", "requests.post", 1) in summary(effects)


@pytest.mark.parametrize(
    "framework_header, decorator",
    [
        (
            "import dramatiq\nfrom dramatiq.brokers.stub import StubBroker\ndramatiq.set_broker(StubBroker())",
            "@dramatiq.actor",
        ),
        ("from huey import MemoryHuey\nhuey = MemoryHuey('x')", "@huey.task()"),
        ("from rq.decorators import job", "@job('default')"),
    ],
)
def test_effects_for_every_framework(project, framework_header, decorator):
    root = project(
        {
            **SERVICES,
            "shop/jobs.py": framework_header
            + "\nfrom shop.services.billing import fulfil\n\n\n"
            + decorator
            + "\ndef fulfil_order(order_id):\n    fulfil(order_id)\n",
        }
    )
    effects, _ = effects_of(root, "fulfil_order")
    assert {e.api for e in effects} == {"Receipt.objects.create", "django.core.mail.send_mail", "requests.post"}


def test_lookalikes_are_not_effects(project):
    root = project(
        {
            **SERVICES,
            "shop/tasks.py": """
                import requests
                from celery import shared_task
                from django.core.cache import cache
                from PIL import Image

                @shared_task
                def thumbnails(path, data):
                    image = Image.open(path)
                    image.save(path + ".png")
                    data.update({"done": True})
                    cache.delete("thumbnails")
                    requests.get("https://cdn.example/purge")
                    requests.put("https://cdn.example/objects/1", data=b"...")
                    seen = []
                    seen.append(path)
                    form = make_form()
                    form.save()
                    return seen
            """,
        }
    )
    effects, _ = effects_of(root, "thumbnails")
    assert effects == []


def test_context_guards_transactions_loops_and_keys(project):
    root = project(
        {
            **SERVICES,
            "shop/tasks.py": """
                import requests
                from celery import shared_task
                from django.db import transaction
                from django.db.models import F
                from shop.models import Order, Receipt

                @shared_task
                def settle(order_id):
                    order = Order.objects.get(pk=order_id)
                    if order.paid_at is not None:
                        return
                    with transaction.atomic():
                        for line in range(3):
                            Receipt.objects.create(order=order)
                    Order.objects.filter(pk=order_id).update(attempts=F("attempts") + 1)
                    order.attempts += 1
                    order.save()
                    requests.post("https://pay.example", headers={"Idempotency-Key": str(order_id)})
                    Order.objects.get_or_create(pk=order_id)
            """,
        }
    )
    effects, analysis = effects_of(root, "settle")
    by_api = {e.api: e for e in effects}
    receipt = by_api["Receipt.objects.create"]
    assert transaction_frames(receipt, analysis) and in_loop(receipt)
    [atomic] = transaction_frames(receipt, analysis)
    assert (analysis.frame_location(atomic).path, analysis.frame_location(atomic).line) == ("shop/tasks.py", 12)
    assert [g.text for g in guard_frames(receipt)] == ["order.paid_at is not None"]
    assert by_api["Order.objects.update"].kind == "increment"
    assert by_api["Order.attempts +="].kind == "increment"
    assert by_api["requests.post"].keyed
    assert by_api["Order.objects.get_or_create"].detail == "upsert"
    assert not transaction_frames(by_api["Order.save"], analysis)


def test_transaction_decorator_and_on_commit_callback(project):
    root = project(
        {
            **SERVICES,
            "shop/tasks.py": """
                from celery import shared_task
                from django.db import transaction
                from shop.models import Receipt

                @shared_task
                def notify(order_id):
                    pass

                @shared_task
                @transaction.atomic
                def close(order_id):
                    Receipt.objects.filter(order_id=order_id).delete()
                    transaction.on_commit(lambda: notify.delay(order_id))
            """,
        }
    )
    effects, analysis = effects_of(root, "close")
    delete = [e for e in effects if e.kind == "db-write"][0]
    assert transaction_frames(delete, analysis)
    enqueue = [e for e in effects if e.kind == "enqueue"][0]
    assert enqueue.detail == "shop.tasks.notify"
    assert any(f.kind == "callback" for f in enqueue.frames)


def test_sqlalchemy_session_and_redis(project):
    root = project(
        {
            "w/__init__.py": "",
            "w/db.py": """
                import redis
                from sqlalchemy import create_engine, insert
                from sqlalchemy.orm import sessionmaker

                Session = sessionmaker(bind=create_engine("sqlite://"))
                counters = redis.Redis()
            """,
            "w/jobs.py": """
                import dramatiq
                from sqlalchemy import insert
                from w.db import Session, counters
                from w.models import Event

                @dramatiq.actor
                def record(payload):
                    session = Session()
                    session.add(Event(payload=payload))
                    session.execute(insert(Event).values(payload=payload))
                    session.commit()
                    counters.incr("events")
                    session.query(Event).all()
            """,
            "w/models.py": "class Event:\n    pass\n",
        }
    )
    effects, _ = effects_of(root, "record")
    assert summary(effects) == [
        ("db-write", "session.add", 0),
        ("db-write", "sqlalchemy.insert", 0),
        ("increment", "redis.incr", 0),
    ]


def test_recursion_and_cycles_terminate(project):
    root = project(
        {
            **SERVICES,
            "shop/tasks.py": """
                from celery import shared_task
                from shop.models import Receipt

                def ping(n):
                    Receipt.objects.create(order_id=n)
                    return pong(n - 1) if n else None

                def pong(n):
                    return ping(n)

                @shared_task
                def loop(n):
                    ping(n)
            """,
        }
    )
    effects, _ = effects_of(root, "loop")
    assert summary(effects) == [("db-write", "Receipt.objects.create", 1)]


def test_tasks_effects_cli(project):
    from click.testing import CliRunner

    from jobcheck.cli import main

    root = project(
        {
            **SERVICES,
            "shop/tasks.py": "from celery import shared_task\nfrom shop.services.billing import fulfil\n\n"
            "@shared_task\ndef fulfil_order(order_id):\n    fulfil(order_id)\n",
        }
    )
    text = CliRunner().invoke(main, ["tasks", "--effects", str(root)]).output
    assert "effects       3" in text
    assert (
        "external  requests.post (http POST)  shop/services/gateway.py:5:5  via shop/tasks.py:6:5 -> shop/services/billing.py:6:5"
        in text
    )
    import json

    document = json.loads(CliRunner().invoke(main, ["tasks", "--effects", "--output-format", "json", str(root)]).output)
    effects = document["tasks"][0]["effects"]
    assert {e["api"] for e in effects} == {"Receipt.objects.create", "django.core.mail.send_mail", "requests.post"}


def test_user_declared_effect_and_transaction_functions(project):
    root = project(
        {
            "pyproject.toml": '[tool.jobcheck]\neffect-functions = ["svc.notify.push"]\n'
            'transaction-functions = ["svc.db.unit_of_work"]\n',
            "svc/__init__.py": "",
            "svc/notify.py": "def push(user_id, text):\n    pass\n",
            "svc/db.py": "def unit_of_work():\n    pass\n",
            "svc/jobs.py": """
                from huey import MemoryHuey
                from svc.db import unit_of_work
                from svc.notify import push

                huey = MemoryHuey("svc")

                @huey.task()
                def remind(user_id):
                    with unit_of_work():
                        push(user_id, "hello")
            """,
        }
    )
    from jobcheck.config import load

    result = run_on(root, {"JC001"})
    analysis = EffectAnalysis(result.project, load([root], None))
    [effect] = analysis.task_effects(result.project.tasks[0])
    assert (effect.kind, effect.api) == ("external", "svc.notify.push")
    assert transaction_frames(effect, analysis)


def test_guards_recognised(project):
    from jobcheck.analysis.effects import guards_of

    root = project(
        {
            **SERVICES,
            "shop/tasks.py": """
                import requests
                import redis
                from celery import shared_task
                from shop.models import Order, Receipt

                r = redis.Redis()

                @shared_task
                def pay(order_id, force=False):
                    if not order_id:
                        return  # input validation, not a dedupe check
                    order = Order.objects.select_for_update().get(pk=order_id)
                    if order.paid_at is not None:
                        return
                    if Receipt.objects.filter(order_id=order_id).exists():
                        return
                    with r.lock(f"pay-{order_id}", timeout=60):
                        requests.post("https://pay.example", json={})
            """,
        }
    )
    effects, analysis = effects_of(root, "pay")
    post = [e for e in effects if e.api == "requests.post"][0]
    kinds = [kind for kind, _ in guards_of(post, analysis)]
    assert kinds.count("dedupe check") == 2
    assert "lock" in kinds and "row lock" in kinds


def test_argument_checks_are_not_guards(project):
    from jobcheck.analysis.effects import guards_of

    root = project(
        {
            **SERVICES,
            "shop/tasks.py": """
                import requests
                from celery import shared_task

                @shared_task
                def ping(url, payload):
                    if not payload:
                        return
                    requests.post(url, json=payload)
            """,
        }
    )
    effects, analysis = effects_of(root, "ping")
    assert guards_of(effects[0], analysis) == []


def test_transaction_aliases_and_wrappers_and_row_methods(project):
    root = project(
        {
            **SERVICES,
            "shop/db.py": """
                from contextlib import contextmanager
                from django import db

                atomic = db.transaction.atomic

                @contextmanager
                def traced_atomic():
                    with db.transaction.atomic():
                        yield
            """,
            "shop/tasks.py": """
                from celery import shared_task
                from shop.db import atomic, traced_atomic
                from shop.models import Order, Receipt

                def close(order):
                    order.status = "closed"
                    order.save()

                Order.close = close

                @traced_atomic()
                def archive(order_id):
                    Receipt.objects.filter(order_id=order_id).update(archived=True)

                @shared_task
                def settle(order_id):
                    with atomic():
                        Receipt.objects.create(order_id=order_id)
                    with traced_atomic():
                        Receipt.objects.filter(order_id=order_id).delete()
                    archive(order_id)
                    order = Order.objects.get(pk=order_id)
                    order.refresh_from_db()
            """,
        }
    )
    effects, analysis = effects_of(root, "settle")
    receipts = [e for e in effects if e.api.startswith("Receipt")]
    assert [e.detail for e in receipts] == ["insert", "delete", "update"]
    assert all(transaction_frames(e, analysis) for e in receipts)


MUTUAL_WRAPPERS = {
    "helpers.py": """
        from django.db import transaction

        def outer_atomic():
            return inner_atomic()

        def inner_atomic(nested=False):
            if nested:
                outer_atomic()
            return transaction.atomic()
    """,
    "tasks.py": """
        from celery import shared_task

        @shared_task
        def notify(order_id):
            pass
    """,
    "a_first.py": """
        from helpers import inner_atomic
        from tasks import notify

        def refresh(order_id):
            with inner_atomic():
                print(order_id)
            notify.delay(order_id)
    """,
    "b_view.py": """
        from helpers import outer_atomic
        from tasks import notify

        def place_order(order_id):
            with outer_atomic():
                notify.delay(order_id)
    """,
}


@pytest.mark.parametrize("order", [("outer_atomic", "inner_atomic"), ("inner_atomic", "outer_atomic")])
def test_wrappers_that_call_each_other_open_a_transaction_whichever_is_asked_first(project, order):
    from jobcheck.model import Name

    result = run_on(project(MUTUAL_WRAPPERS))
    analysis = EffectAnalysis(result.project)
    answers = {name: analysis.opens_transaction(Name(f"helpers.{name}", "global")) for name in order}
    assert answers == {"outer_atomic": True, "inner_atomic": True}


def test_an_enqueue_in_a_wrapper_reached_through_another_is_in_a_transaction(project):
    """The first module's `with inner_atomic()` is decided first; `outer_atomic` must not keep
    the provisional no it got while `inner_atomic` was being decided."""
    result = run_on(project(MUTUAL_WRAPPERS), {"JC502"})
    assert [(f.code, f.location.path, f.location.line) for f in result.findings] == [("JC502", "b_view.py", 6)]


def test_methods_of_fetched_rows_are_followed(project):
    root = project(
        {
            **SERVICES,
            "shop/models.py": MODELS.replace(
                "    attempts = models.IntegerField(default=0)\n",
                "    attempts = models.IntegerField(default=0)\n\n    def archive(self):\n        self.status = 'x'\n        self.save()\n",
            ),
            "shop/tasks.py": """
                from celery import shared_task
                from shop.models import Order

                @shared_task
                def archive(order_id):
                    order = Order.objects.get(pk=order_id)
                    order.archive()
            """,
        }
    )
    effects, _ = effects_of(root, "archive")
    assert summary(effects) == [("db-write", "Order.save", 1)]


def test_foreign_key_rows_and_nested_meta_classes(project):
    root = project(
        {
            **SERVICES,
            "shop/models.py": MODELS
            + """

class Delivery(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE)
    receipt = models.OneToOneField("Receipt", on_delete=models.CASCADE)

    class Meta(models.Model.Meta if hasattr(models.Model, "Meta") else object):
        ordering = ["id"]
""",
            "shop/tasks.py": """
                from celery import shared_task
                from shop.models import Delivery

                @shared_task
                def deliver(delivery_id):
                    delivery = Delivery.objects.get(pk=delivery_id)
                    delivery.order.save()
                    delivery.receipt.delete()
            """,
        }
    )
    effects, analysis = effects_of(root, "deliver")
    assert summary(effects) == [("db-write", "Order.save", 0), ("db-write", "Receipt.delete", 0)]
    meta = analysis.index.resolve("shop.models.Delivery.Meta")
    assert meta.kind == "class" and meta.cls.qualname == "Delivery.Meta"
    assert not analysis.typer.is_model(meta)


def test_branches_and_compensation_do_not_pair_writes(project):
    root = project(
        {
            **SERVICES,
            "shop/tasks.py": """
                from celery import shared_task
                from shop.models import Order, Receipt

                @shared_task(expires=60, queue="q")
                def settle(order_id, full):
                    if full:
                        Receipt.objects.filter(order_id=order_id).delete()
                    else:
                        Order.objects.filter(pk=order_id).update(status="partial")

                @shared_task(expires=60, queue="q")
                def early(order_id, skip):
                    if skip:
                        Order.objects.filter(pk=order_id).update(status="skipped")
                        return
                    Receipt.objects.filter(order_id=order_id).delete()

                @shared_task(expires=60, queue="q")
                def compensate(order_id):
                    try:
                        Order.objects.filter(pk=order_id).update(status="sent")
                    except Exception:
                        Order.objects.filter(pk=order_id).update(status="failed")
                        raise

                @shared_task(expires=60, queue="q")
                def both(order_id):
                    Order.objects.filter(pk=order_id).update(status="a")
                    Receipt.objects.filter(order_id=order_id).delete()
            """,
        }
    )
    findings = [f for f in run_on(root, {"JC501"}).findings]
    assert [f.task.rsplit(".", 1)[-1] for f in findings] == ["both"]


def test_text_appends_and_new_rows_are_not_increments(project):
    root = project(
        {
            **SERVICES,
            "shop/tasks.py": """
                from celery import shared_task
                from shop.models import Order

                @shared_task
                def note(order_id):
                    order = Order.objects.get(pk=order_id)
                    order.status += " (noted)"
                    fresh = Order(status="new")
                    fresh.attempts += 1
                    fresh.save()
            """,
        }
    )
    effects, _ = effects_of(root, "note")
    assert [e.kind for e in effects] == ["db-write"]


def test_waits_on_results_and_sleeps(project):
    root = project(
        {
            **SERVICES,
            "shop/tasks.py": """
                import time
                from celery import shared_task
                from celery.result import AsyncResult

                @shared_task
                def child(x):
                    return x

                @shared_task
                def parent(x):
                    result = child.delay(x)
                    value = result.get(timeout=10)
                    AsyncResult("id").wait()
                    time.sleep(5)
                    return {"v": value}.get("v")
            """,
        }
    )
    effects, _ = effects_of(root, "parent")
    assert sorted((e.kind, e.api) for e in effects) == [
        ("enqueue", "delay"),
        ("sleep", "time.sleep"),
        ("wait", "AsyncResult.get"),
        ("wait", "AsyncResult.wait"),
    ]


def test_preconditions_are_not_dedupe_checks(project):
    from jobcheck.analysis.effects import guards_of

    root = project(
        {
            **SERVICES,
            "shop/tasks.py": """
                import requests
                from celery import shared_task
                from urllib.parse import urlparse
                from shop.models import Order, Receipt

                @shared_task
                def notify(order_id, payload):
                    order = Order.objects.get(pk=order_id)
                    if order.kind == "internal":
                        return  # a precondition on the row's kind: not a record of this job
                    if not payload.get("url"):
                        return  # the job's own argument
                    if urlparse(payload["url"]).scheme != "https":
                        return
                    requests.post(payload["url"])

                @shared_task
                def once(order_id):
                    order = Order.objects.get(pk=order_id)
                    if order.notified_at:
                        return
                    requests.post("https://x.example")
                    Receipt(order=order).save()
            """,
        }
    )
    notify, analysis = effects_of(root, "notify")
    assert guards_of(notify[0], analysis) == []
    once, analysis = effects_of(root, "once")
    assert [kind for kind, _ in guards_of(once[0], analysis)] == ["dedupe check"]
    assert [e.detail for e in once if e.api == "Receipt.save"] == ["insert"]


def test_context_manager_that_checks_state_guards_its_body(project):
    from jobcheck.analysis.effects import guards_of

    root = project(
        {
            **SERVICES,
            "shop/events.py": """
                from contextlib import asynccontextmanager
                from shop.models import Order

                class Events:
                    @asynccontextmanager
                    async def handle(self, order_id):
                        order = Order.objects.get(pk=order_id)
                        if order.status == "handled":
                            raise RuntimeError("already handled")
                        yield order
                        Order.objects.filter(pk=order_id).update(status="handled")

                events = Events()
            """,
            "shop/tasks.py": """
                import requests
                import dramatiq
                from shop.events import events

                @dramatiq.actor
                async def on_refund(order_id):
                    async with events.handle(order_id):
                        requests.post("https://x.example")
            """,
        }
    )
    effects, analysis = effects_of(root, "on_refund")
    post = [e for e in effects if e.api == "requests.post"][0]
    assert ("dedupe check", "in the context manager") in guards_of(post, analysis)


def test_guards_in_helpers_on_rows_handed_in_and_delegating_managers(project):
    from jobcheck.analysis.effects import guards_of

    root = project(
        {
            **SERVICES,
            "shop/service.py": """
                from contextlib import contextmanager
                import requests
                from shop.models import Order

                def pay(order: Order):
                    if order.status != "confirmed":
                        raise ValueError(order.status)
                    requests.post("https://pay.example")

                @contextmanager
                def handle(order_id):
                    order = Order.objects.get(pk=order_id)
                    if order.status == "handled":
                        raise RuntimeError("handled")
                    yield order
                    order.save()

                @contextmanager
                def handle_payment(order_id):
                    with handle(order_id) as order:
                        yield order
            """,
            "shop/tasks.py": """
                import requests
                from celery import shared_task
                from shop.models import Order
                from shop.service import handle_payment, pay

                @shared_task
                def settle(order_id):
                    pay(Order.objects.get(pk=order_id))

                @shared_task
                def on_event(order_id):
                    with handle_payment(order_id):
                        requests.post("https://hooks.example")
            """,
        }
    )
    for name in ("settle", "on_event"):
        effects, analysis = effects_of(root, name)
        post = [e for e in effects if e.api == "requests.post"][0]
        assert [kind for kind, _ in guards_of(post, analysis)] == ["dedupe check"], name


def test_jc101_stays_silent_after_any_early_exit_on_stored_state(project):
    root = project(
        {
            **SERVICES,
            "shop/tasks.py": """
                import requests
                from celery import shared_task
                from django.conf import settings
                from shop.models import Order

                @shared_task(expires=60, queue="q")
                def remind(order_id):
                    order = Order.objects.get(pk=order_id)
                    if order.reminder_sent_on is not None:
                        return  # a timestamp jobcheck cannot certify as a dedupe record: silent
                    requests.post("https://mail.example")

                @shared_task(expires=60, queue="q")
                def ping(url, payload):
                    if not payload:
                        return  # only the job's own argument: still reported
                    requests.post(url, json=payload)

                @shared_task(expires=60, queue="q")
                def confirm(order_id):
                    order = Order.objects.filter(pk=order_id).first()
                    if order is None:
                        raise LookupError(order_id)  # a not-found check: still reported
                    if settings.MAIL_DISABLED:
                        return  # configuration: still reported
                    requests.post("https://mail.example")
            """,
        }
    )
    findings = run_on(root, {"JC101"}).findings
    assert sorted(f.task.rsplit(".", 1)[-1] for f in findings) == ["confirm", "ping"]


def test_jc101_reads_a_check_then_act_arm_as_a_dedupe_check(project):
    root = project(
        {
            **SERVICES,
            "shop/tasks.py": """
                import requests
                from celery import shared_task
                from shop.models import Order, Receipt

                @shared_task(expires=60, queue="q")
                def receipt_once(order_id):
                    if not Receipt.objects.filter(order_id=order_id).exists():
                        Receipt.objects.create(order_id=order_id)

                @shared_task(expires=60, queue="q")
                def notify_once(order_id):
                    sent = Receipt.objects.filter(order_id=order_id).exists()
                    if not sent:
                        requests.post("https://mail.example")
                    else:
                        return None

                @shared_task(expires=60, queue="q")
                def notify_channel(order_id, channel):
                    if channel is not None and not Receipt.objects.filter(order_id=order_id).exists():
                        requests.post("https://chat.example")

                @shared_task(expires=60, queue="q")
                def register_tenant(tenant_id):
                    try:
                        requests.post("https://gateway.example/tenants", json={"id": tenant_id}).raise_for_status()
                    except requests.HTTPError as error:
                        if error.response.status_code == 409:
                            return  # already registered
                        raise

                @shared_task(expires=60, queue="q")
                def notify_paid(order_id):
                    order = Order.objects.get(pk=order_id)
                    if order.status == "paid":
                        requests.post("https://mail.example")  # a precondition, not a record of this job

                @shared_task(expires=60, queue="q")
                def receipts_for(order_ids):
                    for order_id in order_ids:
                        try:
                            Receipt.objects.get(order_id=order_id)
                            continue
                        except Receipt.DoesNotExist:
                            Receipt.objects.create(order_id=order_id)

                @shared_task(expires=60, queue="q")
                def receipts_after_lookup(order_ids):
                    for order_id in order_ids:
                        try:
                            Receipt.objects.get(order_id=order_id)
                            continue
                        except Receipt.DoesNotExist:
                            pass
                        Receipt.objects.create(order_id=order_id)

                @shared_task(expires=60, queue="q")
                def replace_receipts(rows):
                    Receipt.objects.all().delete()
                    Receipt.objects.bulk_create(rows)

                @shared_task(expires=60, queue="q")
                def sync_receipts(rows):
                    Receipt.objects.bulk_create(rows, update_conflicts=True, unique_fields=["order"], update_fields=["total"])
                    Receipt.objects.bulk_create(rows, ignore_conflicts=True)

                @shared_task(expires=60, queue="q")
                def notify_unless_flag(order_id, quiet):
                    if not quiet:
                        requests.post("https://mail.example")  # the job's own argument
            """,
        }
    )
    findings = run_on(root, {"JC101"}).findings
    assert sorted(f.task.rsplit(".", 1)[-1] for f in findings) == ["notify_paid", "notify_unless_flag"]


def test_jc101_sees_get_or_create_in_a_model_method(project):
    """`except cls.DoesNotExist:` / `except self.DoesNotExist:` in a method of the model is a
    lookup of its own records (bookwyrm's `SiteSettings.get()`); in another class's method it
    is a lookup of that class."""
    root = project(
        {
            "shop/__init__.py": "",
            "shop/models.py": """
                from django.db import models

                class SiteSettings(models.Model):
                    name = models.CharField(max_length=20)

                    @classmethod
                    def get(cls):
                        try:
                            return cls.objects.get(name="site")
                        except cls.DoesNotExist:
                            return cls.objects.create(name="site")

                    def twin(self):
                        try:
                            return SiteSettings.objects.get(name=self.name + "-twin")
                        except self.DoesNotExist:
                            return SiteSettings.objects.create(name=self.name + "-twin")

                class Other(models.Model):
                    @classmethod
                    def make(cls):
                        try:
                            return cls.objects.get(id=1)
                        except cls.DoesNotExist:
                            return SiteSettings.objects.create(name="x")  # no lookup of SiteSettings
            """,
            "shop/tasks.py": """
                from celery import shared_task
                from shop.models import Other, SiteSettings

                @shared_task(expires=60, queue="q")
                def refresh():
                    SiteSettings.get()

                @shared_task(expires=60, queue="q")
                def twin():
                    SiteSettings.objects.get(pk=1).twin()

                @shared_task(expires=60, queue="q")
                def make():
                    Other.make()
            """,
        }
    )
    findings = run_on(root, {"JC101"}).findings
    assert sorted(f.task.rsplit(".", 1)[-1] for f in findings) == ["make"]


def test_jc101_reads_a_django_save_given_its_primary_key_as_an_upsert(project):
    """`Model(pk=key).save()` updates the row with that key if there is one. Not when the key is
    None, the primary key has a default (Django inserts), or with `force_insert=True`."""
    root = project(
        {
            "shop/__init__.py": "",
            "shop/models.py": """
                import uuid
                from django.db import models

                class Setting(models.Model):
                    name = models.CharField(max_length=20)

                class Token(models.Model):
                    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
            """,
            "shop/tasks.py": """
                from celery import shared_task
                from shop.models import Setting, Token

                @shared_task(expires=60, queue="q")
                def pin(name):
                    Setting(pk=1, name=name).save()

                @shared_task(expires=60, queue="q")
                def keyless(name):
                    Setting(id=None, name=name).save()

                @shared_task(expires=60, queue="q")
                def forced(name):
                    Setting(pk=1, name=name).save(force_insert=True)

                @shared_task(expires=60, queue="q")
                def token(key):
                    Token(id=key).save()
            """,
        }
    )
    findings = run_on(root, {"JC101"}).findings
    assert sorted(f.task.rsplit(".", 1)[-1] for f in findings) == ["forced", "keyless", "token"]


def test_constant_arguments_rule_out_branches_in_helpers(project):
    root = project(
        {
            **SERVICES,
            "shop/helpers.py": """
                from shop.models import Order

                def close(order_id, save=True):
                    Order.objects.filter(pk=order_id).update(status="closed")
                    if save:
                        Order.objects.filter(pk=order_id).delete()

                def archive(order_id, dry_run):
                    if not dry_run:
                        Order.objects.filter(pk=order_id).delete()

                def touch(order: Order, with_save=True):
                    if order.id and with_save:
                        order.save()
                    else:
                        Order.objects.filter(pk=order.id).update(status="touched")
            """,
            "shop/tasks.py": """
                from celery import shared_task
                from shop.helpers import archive, close, touch
                from shop.models import Order

                @shared_task
                def quick(order_id):
                    close(order_id, save=False)
                    archive(order_id, True)
                    touch(Order.objects.get(pk=order_id), with_save=False)

                @shared_task
                def full(order_id):
                    close(order_id)
                    archive(order_id, dry_run=False)
            """,
        }
    )
    quick, _ = effects_of(root, "quick")
    assert summary(quick) == [("db-write", "Order.objects.update", 1), ("db-write", "Order.objects.update", 1)]
    full, _ = effects_of(root, "full")
    assert summary(full) == [
        ("db-write", "Order.objects.delete", 1),
        ("db-write", "Order.objects.delete", 1),
        ("db-write", "Order.objects.update", 1),
    ]


def test_claims_and_row_locks_cover_effects_in_helpers(project):
    root = project(
        {
            **SERVICES,
            "shop/helpers.py": """
                from shop.models import Receipt

                def record(order_ids):
                    for order_id in order_ids:
                        Receipt.objects.create(order_id=order_id)
            """,
            "shop/tasks.py": """
                from celery import shared_task
                from django.db import transaction
                from django.db.models import Q
                from shop.helpers import record
                from shop.models import Order

                @shared_task(expires=60, queue="q")
                def expire():
                    ids = list(Order.objects.filter(status="new").values_list("pk", flat=True))
                    with transaction.atomic():
                        Order.objects.filter(pk__in=ids).update(status="expired")
                        record(ids)

                @shared_task(expires=60, queue="q")
                def locked(order_id):
                    with transaction.atomic():
                        Order.objects.select_for_update().get(pk=order_id)
                        record([order_id])

                def refundable():
                    return Order.objects.filter(Q(refundable=True) | Q(status="paid"))

                @shared_task(expires=60, queue="q")
                def refund_selected_by_helper():
                    rows = refundable()
                    with transaction.atomic():
                        rows.update(refundable=False)
                        record([row.pk for row in rows])

                @shared_task(expires=60, queue="q")
                def plain(order_id):
                    record([order_id])
            """,
        }
    )
    findings = run_on(root, {"JC101"}).findings
    assert [f.task.rsplit(".", 1)[-1] for f in findings] == ["plain"]


def test_loop_variables_over_querysets_are_rows(project):
    root = project(
        {
            **SERVICES,
            "shop/tasks.py": """
                from celery import shared_task
                from shop.models import Order

                @shared_task
                def purge(ids, names):
                    for order in Order.objects.filter(pk__in=ids):
                        order.delete()
                    for name in names:
                        name.delete()
                    Order.objects.filter(pk__in=ids)[0].save()
            """,
        }
    )
    effects, _ = effects_of(root, "purge")
    assert summary(effects) == [("db-write", "Order.delete", 0), ("db-write", "Order.save", 0)]


def test_an_arm_needing_another_mode_than_the_caller_fixes_never_runs(project):
    """wger: `sync(...)` leaves `mode=Mode.UPDATE`; the insert under `if mode == Mode.INSERT:` cannot run."""
    root = project(
        {
            **SERVICES,
            "shop/sync.py": """
                import enum

                from shop.models import Receipt

                class Mode(enum.Enum):
                    INSERT = 1
                    UPDATE = 2

                def sync(rows, mode: Mode = Mode.UPDATE):
                    for row in rows:
                        if mode == Mode.INSERT:
                            Receipt.objects.create(order_id=row)
                        else:
                            Receipt.objects.update_or_create(order_id=row)
            """,
            "shop/tasks.py": """
                from celery import shared_task

                from shop.sync import Mode, sync

                @shared_task(expires=60, queue="q")
                def update_all(rows):
                    sync(rows)

                @shared_task(expires=60, queue="q")
                def insert_all(rows):
                    sync(rows, mode=Mode.INSERT)
            """,
        }
    )
    findings = run_on(root, {"JC101"}).findings
    assert sorted(f.task.rsplit(".", 1)[-1] for f in findings) == ["insert_all"]


def test_a_resolution_does_not_depend_on_what_was_resolved_before():
    """Answers are kept for reuse, but never where the depth limit would have cut them short."""
    from jobcheck.analysis.index import ProjectIndex
    from jobcheck.engine import analyse_source
    from jobcheck.knowledge import load_knowledge

    chain = 14  # re-exports, more than the resolver follows from m0
    sources = [(f"m{i}", f"from m{i + 1} import x\n".encode()) for i in range(chain)]
    sources.append((f"m{chain}", b"from celery import Celery\nx = Celery('a')\n"))

    def index():
        modules = [analyse_source(data, f"{name}.py", name, False, True) for name, data in sources]
        return ProjectIndex(modules, load_knowledge((), ()), {name for name, _ in sources}, None)

    cold = index().resolve("m0.x")
    warmed = index()
    assert warmed.resolve("m5.x").kind == "instance"  # near enough to the app to reach it
    assert warmed.resolve("m0.x") == cold and cold.kind == "external"


A_TASK = """
from celery import shared_task


@shared_task
def noop():
    pass
"""


def _wrappers_module(calls):
    """`helpers.py` with wrapper `w<i>` calling the wrappers `calls[i]` names (a with-block for
    even callees, a plain call for odd ones); -1 stands for `transaction.atomic()`."""
    lines = ["from django.db import transaction", ""]
    for i, callees in enumerate(calls):
        lines.append(f"def w{i}():")
        for callee in callees:
            if callee < 0:
                lines.append("    return transaction.atomic()")
            elif callee % 2 == 0:
                lines += [f"    with w{callee}():", "        pass"]
            else:
                lines.append(f"    w{callee}()")
        lines += ["    pass", ""]
    return "\n".join(lines)


def _reaches_atomic(calls):
    found = {i for i, callees in enumerate(calls) if -1 in callees}
    while True:
        more = {i for i, callees in enumerate(calls) if found & set(callees)} - found
        if not more:
            return found
        found |= more


def test_which_wrappers_open_a_transaction_does_not_depend_on_the_order_asked():
    """A wrapper opens a transaction when its calls reach `transaction.atomic()`, through any
    cycle of wrappers, whichever wrapper is asked about first."""
    import tempfile
    from pathlib import Path

    pytest.importorskip("hypothesis")
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from conftest import write_project
    from jobcheck.model import Name

    size = st.integers(min_value=1, max_value=5)
    graphs = size.flatmap(
        lambda n: st.tuples(
            st.lists(st.lists(st.integers(min_value=-1, max_value=n - 1), max_size=3), min_size=n, max_size=n),
            st.permutations(range(n)),
        )
    )

    @settings(max_examples=40, deadline=None)
    @given(graphs)
    def check(graph):
        calls, order = graph
        with tempfile.TemporaryDirectory() as folder:
            root = write_project(Path(folder), {"helpers.py": _wrappers_module(calls), "tasks.py": A_TASK})
            analysis = EffectAnalysis(run_on(root, {"JC502"}).project)
            answers = {i: analysis.opens_transaction(Name(f"helpers.w{i}", "global")) for i in order}
        assert {i for i, yes in answers.items() if yes} == _reaches_atomic(calls)

    check()
