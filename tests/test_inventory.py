"""`jobcheck tasks`: every task, with the options that apply and where each comes from."""

import pytest

from conftest import FIXTURES, run_on, task_named, tasks_of
from jobcheck.model import Unknown


@pytest.fixture(scope="module")
def fixture_tasks():
    tasks = run_on(FIXTURES, {"JC001"}).project.tasks
    return {t.qualname: t for t in tasks}


def option(task, key):
    value = task.option(key)
    assert value is not None, f"{task.qualname} has no {key}: {dict(task.options)}"
    return value


def test_fixture_inventory_is_complete(fixture_tasks):
    assert sorted(fixture_tasks) == sorted(
        [
            "shop.payments.capture_payment",
            "shop.payments.refund_payment",
            "shop.payments.ReconcileLedger",
            *(
                f"shop.payments.{name}"
                for name in (
                    "record_after_lookup",
                    "record_before_lookup",
                    "settle_order",
                    "check_then_record",
                    "record_retrying_anything",
                    "record_then_retry_in_helper",
                    "poll_settlement",
                    "never_retried",
                    "poll_now",
                )
            ),
            "shop.emails.send_receipt",
            "shop.reports.nightly_report",
            "shop.reports.weekly_digest",
            "shop.reports.export_everything",
            "shop.reports.total_for",
            "shop.reports.monthly_report",
            "shop.reports.spread_load",
            "shop.reports.export_orders",
            "shop.reports.export_customers",
            "shop.integrations.sync_partner",
            "shop.integrations.sync_partner_bounded",
            *(
                f"shop.inventory.{name}"
                for name in (
                    "recount_stock",
                    "recount_stock_safely",
                    "reserve",
                    "reserve_safely",
                    "order_status",
                    "notify_warehouse",
                )
            ),
            *(
                f"jobs.accounts.{name}"
                for name in (
                    "credit",
                    "open_account",
                    "open_account_atomically",
                    "tag",
                    "tag_locked",
                    "settle",
                    "rebuild_balances",
                    "close",
                    "close_safely",
                    "send_statement",
                    "archive",
                )
            ),
            *(
                f"store.products.{name}"
                for name in (
                    "count_sale",
                    "restock",
                    "restock_atomically",
                    "describe",
                    "describe_in_one_statement",
                    "announce",
                    "refresh_price",
                    "refresh_price_or_fail",
                    "wait_for_supplier",
                    "reprice",
                    "reprice_safely",
                )
            ),
            *(
                f"worker.customers.{name}"
                for name in (
                    "activate",
                    "activate_atomically",
                    "tag",
                    "tag_locked",
                    "welcome",
                    "remind",
                    "wait_for_payment",
                    "export",
                )
            ),
            *(
                f"shop.orders.{name}"
                for name in (
                    "charge_order",
                    "charge_with_key",
                    "create_payment_once",
                    "mark_paid",
                    "pay_through_helper",
                    "count_shipment",
                    "ship",
                    "ship_atomically",
                    "notify_inside_transaction",
                    "archive",
                    "expire_offer",
                    "close_order",
                    "sync_crm",
                    "sync_crm_or_fail",
                    "sync_crm_later",
                    "sync_crm_recorded",
                    "sync_crm_timeout",
                    "add_note",
                    "add_note_locked",
                )
            ),
            "modern.render",
            "worker.tasks.ping",
            "worker.tasks.charge_card",
            "worker.tasks.cleanup_uploads",
            "worker.tasks.SyncInventory",
            "worker.tasks.rebuild_index",
            "worker.tasks.settle",
            *(
                f"worker.billing.{n}"
                for n in (
                    "send_invoice",
                    "send_invoice_no_retry",
                    "count_view",
                    "claim_then_send",
                    "fetch_rates",
                    "reconcile",
                    "refresh_rates",
                    "close_books",
                    "close_books_safely",
                    "settle_day",
                    "settle_day_safely",
                )
            ),
            *(f"jobs.reports.{n}" for n in ("deliver_report", "push_notification", "push_with_key", "resync")),
            *(
                f"store.mail.{n}"
                for n in (
                    "send_receipt",
                    "send_receipt_once",
                    "hourly_digest",
                    "send_reminder",
                    "sync_forever",
                    "send_survey",
                )
            ),
            "jobs.work.resize_image",
            "jobs.work.send_report",
            "jobs.work.cleanup",
            "jobs.work.refresh_feed",
            "jobs.work.notify",
            "jobs.work.rebuild_search_index",
            "jobs.work.check_connection",
            "jobs.work.ping_partner",
            "jobs.work.poll_feed",
            "store.tasks.charge",
            "store.tasks.nightly_cleanup",
            "store.tasks.send_newsletter",
            "store.tasks.import_catalog",
            "store.tasks.reindex",
            "store.tasks.rebuild",
            "store.tasks.settle_all",
        ]
    )


def test_celery_routes_from_django_settings_with_namespace(fixture_tasks):
    queue = option(fixture_tasks["shop.payments.capture_payment"], "queue")
    assert queue.value == "payments"
    assert queue.source == "task_routes['shop.payments.*']"
    assert queue.location.path.endswith("shop/settings.py")


def test_celery_route_by_regex_reaches_a_wrapper_task(fixture_tasks):
    queue = option(fixture_tasks["shop.emails.send_receipt"], "queue")
    assert queue.value == "mail"


def test_celery_explicit_queue_beats_routes_and_default(fixture_tasks):
    queue = option(fixture_tasks["shop.reports.nightly_report"], "queue")
    assert (queue.value, queue.source) == ("reports", "decorator")


def test_celery_default_queue_from_app_conf(fixture_tasks):
    queue = option(fixture_tasks["shop.reports.weekly_digest"], "queue")
    assert (queue.value, queue.source) == ("default", "task_default_queue: app.conf")


def test_celery_base_class_options_across_modules(fixture_tasks):
    task = fixture_tasks["shop.payments.capture_payment"]
    assert option(task, "expires").value == 300
    assert option(task, "expires").source == "base class ReliableTask"
    assert option(task, "retries").value == 5  # max_retries of the base, retried by autoretry_for
    assert task.option("abstract") is None


def test_celery_self_retry_counts_as_retried(fixture_tasks):
    retries = option(fixture_tasks["shop.payments.refund_payment"], "retries")
    assert retries.value == 2
    assert "self.retry" in retries.source


def test_celery_no_retry_without_autoretry_or_self_retry(fixture_tasks):
    assert option(fixture_tasks["shop.reports.nightly_report"], "retries").value == 0


def test_celery_acks_late_from_settings(fixture_tasks):
    acks = option(fixture_tasks["shop.payments.capture_payment"], "acks_late")
    assert acks.value is True
    assert acks.source == "setting CELERY_TASK_ACKS_LATE"


def test_celery_annotations(fixture_tasks):
    limit = option(fixture_tasks["shop.reports.nightly_report"], "time_limit")
    assert limit.value == 900
    assert "task_annotations" in limit.source


def test_celery_wrapper_passes_keywords_through(fixture_tasks):
    task = fixture_tasks["shop.emails.send_receipt"]
    assert option(task, "expires").value == 3600
    assert option(task, "priority").value == 3
    assert task.how.startswith("@wrappers.mail_task")


def test_celery_class_based_task_with_explicit_name(fixture_tasks):
    task = fixture_tasks["shop.payments.ReconcileLedger"]
    assert task.name == "shop.payments.reconcile"
    assert task.kind == "class"


def test_celery_aliased_shared_task(fixture_tasks):
    assert fixture_tasks["shop.reports.weekly_digest"].name == "shop.reports.weekly_digest"


def test_dramatiq_broker_middleware_sets_defaults(fixture_tasks):
    retries = option(fixture_tasks["worker.tasks.charge_card"], "retries")
    assert retries.value == 3
    assert retries.source.startswith("broker middleware Retries")
    assert option(fixture_tasks["worker.tasks.charge_card"], "expires").value == 3_600_000


def test_dramatiq_actor_keyword_beats_broker(fixture_tasks):
    assert option(fixture_tasks["worker.tasks.ping"], "retries").value == 0


def test_dramatiq_wrapper_defaults_and_site_keywords(fixture_tasks):
    assert option(fixture_tasks["worker.tasks.charge_card"], "queue").value == "high"
    assert option(fixture_tasks["worker.tasks.charge_card"], "time_limit").value == 60_000
    cleanup = option(fixture_tasks["worker.tasks.cleanup_uploads"], "queue")
    assert (cleanup.value, cleanup.source) == ("low", "default of wrapper actor")


def test_dramatiq_generic_actor_meta_and_abstract(fixture_tasks):
    task = fixture_tasks["worker.tasks.SyncInventory"]
    assert option(task, "queue").value == "inventory"
    assert option(task, "retries").value == 1
    assert "worker.tasks.AbstractImporter" not in fixture_tasks


def test_rq_functions_found_through_enqueue(fixture_tasks):
    assert option(fixture_tasks["jobs.work.resize_image"], "queue").value == "high"
    assert option(fixture_tasks["jobs.work.send_report"], "queue").value == "low"  # through enqueue_job()
    assert option(fixture_tasks["jobs.work.cleanup"], "queue").value == "default"  # by dotted path, Queue()
    assert fixture_tasks["jobs.work.resize_image"].kind == "enqueued"


def test_rq_partial_of_decorator_subclass(fixture_tasks):
    task = fixture_tasks["jobs.work.refresh_feed"]
    assert option(task, "queue").value == "default"
    assert option(task, "time_limit").value == 60
    assert option(task, "failure_ttl").value == 86400  # bound by partial(...)


def test_rq_retry_object(fixture_tasks):
    task = fixture_tasks["jobs.work.notify"]
    assert option(task, "retries").value == 3
    assert option(task, "queue").value == "notifications"


def test_rq_timeouts(fixture_tasks, project):
    assert option(fixture_tasks["jobs.work.resize_image"], "time_limit").value == 30  # job_timeout=
    assert option(fixture_tasks["jobs.work.send_report"], "time_limit").value == 180  # RQ's default
    root = project(
        {
            "q/__init__.py": "",
            "q/jobs.py": """
                from redis import Redis
                from rq import Queue

                slow = Queue("slow", connection=Redis(), default_timeout=3600)

                def crunch():
                    pass

                def start():
                    slow.enqueue(crunch)
            """,
        }
    )
    limit = task_named(root, "crunch").option("time_limit")
    assert (limit.value, limit.source) == (3600, "Queue(default_timeout=...)")


def test_user_declared_task_decorator(project):
    root = project(
        {
            "pyproject.toml": '[tool.jobcheck.task-decorators]\n"u.background.job" = "rq"\n',
            "u/__init__.py": "",
            "u/background.py": "import rq\n\ndef job(f):\n    return f\n",
            "u/work.py": "from u.background import job\n\n@job\ndef sync():\n    pass\n",
        }
    )
    assert task_named(root, "sync").framework == "rq"


def test_huey_options(fixture_tasks):
    charge = fixture_tasks["store.tasks.charge"]
    assert option(charge, "retries").value == 3
    assert option(charge, "queue").value == "store"
    assert option(fixture_tasks["store.tasks.send_newsletter"], "expires").value == 600
    assert option(fixture_tasks["store.tasks.nightly_cleanup"], "periodic").value is True


def test_enqueue_sites(tmp_path):
    project = run_on(FIXTURES, {"JC001"}).project
    sites = {(s.location.path.rsplit("/", 1)[-1], s.api, s.task) for s in project.enqueue_sites}
    assert ("views.py", "delay", "shop.payments.capture_payment") in sites
    assert ("views.py", "apply_async", "shop.emails.send_receipt") in sites
    assert ("views.py", "apply_async", "shop.payments.refund_payment") in sites
    assert ("views.py", "send_task", None) in sites
    assert ("tasks.py", "send", "worker.tasks.charge_card") in sites
    assert ("tasks.py", "send_with_options", "worker.tasks.ping") in sites
    assert ("api.py", "enqueue", "jobs.work.resize_image") in sites
    assert ("api.py", "enqueue_job", "jobs.work.send_report") in sites
    assert ("tasks.py", "call", "store.tasks.charge") in sites
    assert ("tasks.py", "schedule", "store.tasks.send_newsletter") in sites


# ------------------------------------------------------------------ inline projects


def test_import_celery_module_attribute(project):
    root = project({"app/tasks.py": "import celery\n\n@celery.shared_task\ndef a():\n    pass\n"})
    assert task_named(root, "a").framework == "celery"


def test_app_imported_through_relative_import_and_reexport(project):
    root = project(
        {
            "proj/__init__.py": "from .celeryconf import app\n",
            "proj/celeryconf.py": "from celery import Celery\napp = Celery('proj')\n",
            "proj/orders/__init__.py": "",
            "proj/orders/tasks.py": "from .. import app\n\n@app.task(queue='orders')\ndef ship(order_id):\n    pass\n",
        }
    )
    assert task_named(root, "ship").option("queue").value == "orders"


def test_app_from_factory_function(project):
    root = project(
        {
            "site/__init__.py": "",
            "site/worker.py": """
                from celery import Celery

                def create_application():
                    app = Celery("site")
                    return app

                app = create_application()
            """,
            "site/tasks.py": "from site.worker import app\n\n@app.task\ndef build():\n    pass\n",
        }
    )
    assert task_named(root, "build").framework == "celery"


def test_celery_subclass_app_and_conf_update(project):
    root = project(
        {
            "w/__init__.py": "",
            "w/app.py": """
                from celery import Celery

                class MyCelery(Celery):
                    pass

                app = MyCelery("w")
                app.conf.update(task_time_limit=30, task_routes=[{"w.app.*": "fast"}])
            """,
            "w/jobs.py": "from w.app import app\n\n@app.task\ndef go():\n    pass\n",
        }
    )
    task = task_named(root, "go")
    assert task.option("time_limit").value == 30
    assert task.option("time_limit").source == "app.conf.update"
    assert task.option("queue").value == "celery"  # the route is for w.app.*, not w.jobs.go


def test_router_function_counts_as_routed(project):
    root = project(
        {
            "r/__init__.py": "",
            "r/app.py": """
                from celery import Celery

                def route(name, args, kwargs, options, task=None, **kw):
                    return {"queue": "dynamic"}

                app = Celery("r")
                app.conf.task_routes = (route,)
            """,
            "r/jobs.py": "from r.app import app\n\n@app.task\ndef go():\n    pass\n",
        }
    )
    queue = task_named(root, "go").option("queue")
    assert isinstance(queue.value, Unknown)
    assert queue.source == "router function in task_routes"


def test_config_from_object_module_and_old_setting_names(project):
    root = project(
        {
            "c/__init__.py": "",
            "c/celeryconfig.py": "CELERY_ROUTES = {'c.jobs.go': {'queue': 'old-style'}}\nCELERY_ACKS_LATE = True\n",
            "c/app.py": "from celery import Celery\napp = Celery('c')\napp.config_from_object('c.celeryconfig')\n",
            "c/jobs.py": "from c.app import app\n\n@app.task\ndef go():\n    pass\n",
        }
    )
    task = task_named(root, "go")
    assert task.option("queue").value == "old-style"
    assert task.option("acks_late").value is True


def test_config_from_object_class_by_reference_and_by_path(project):
    """`config_from_object(CeleryConfig)` and `"pkg.settings:CeleryConfig"` read the class's
    attributes (osf.io), also those set in a `try`/`else` of the class body; so do an instance
    of it and its `"pkg.settings:config"` path."""
    settings = """
        class CeleryConfig:
            task_default_queue = "work"
            try:
                from kombu import Queue
            except ImportError:
                pass
            else:
                task_routes = ("e.routers.Router",)
            task_acks_late = True

        config = CeleryConfig()
    """
    for how in ("CeleryConfig", "'e.settings:CeleryConfig'", "'e.settings.CeleryConfig'", "config", "'e.settings:config'"):
        root = project(
            {
                "e/__init__.py": "",
                "e/settings.py": settings,
                "e/app.py": f"from celery import Celery\nfrom e.settings import CeleryConfig, config\napp = Celery('e')\napp.config_from_object({how})\n",
                "e/jobs.py": "from e.app import app\n\n@app.task\ndef go():\n    pass\n",
            }
        )
        task = task_named(root, "go")
        assert task.option("queue").source == "router function in task_routes", how
        assert task.option("acks_late").value is True, how


def test_settings_star_import(project):
    root = project(
        {
            "d/__init__.py": "",
            "d/settings/__init__.py": "from .base import *\n",
            "d/settings/base.py": "CELERY_TASK_DEFAULT_QUEUE = 'work'\n",
            "d/celery.py": """
                import os
                from celery import Celery
                os.environ.setdefault("DJANGO_SETTINGS_MODULE", "d.settings")
                app = Celery("d")
                app.config_from_object("django.conf:settings", namespace="CELERY")
            """,
            "d/tasks.py": "from celery import shared_task\n\n@shared_task\ndef go():\n    pass\n",
        }
    )
    assert task_named(root, "go").option("queue").value == "work"


def test_app_built_by_a_factory_from_a_settings_class(project):
    """readthedocs: `app = create_application()` configures it inside the function, and its
    Django settings are class attributes copied out by `Settings.load_settings(__name__)`."""
    root = project(
        {
            "r/__init__.py": "",
            "r/settings/__init__.py": "",
            "r/settings/base.py": """
                class Settings:
                    @classmethod
                    def load_settings(cls, module_name):
                        pass

                class BaseSettings(Settings):
                    CELERY_TASK_ACKS_LATE = True
                    CELERY_TASK_ROUTES = {"r.tasks.*": {"queue": "web"}}
                    CELERY_TASK_TIME_LIMIT = 60 * 60
            """,
            "r/settings/prod.py": """
                from r.settings.base import BaseSettings

                class ProdSettings(BaseSettings):
                    CELERY_TASK_TIME_LIMIT = 120

                ProdSettings.load_settings(__name__)
            """,
            "r/worker.py": """
                import os
                from celery import Celery

                def create_application():
                    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "r.settings.prod")
                    application = Celery("r")
                    application.config_from_object("django.conf:settings", namespace="CELERY")
                    return application

                app = create_application()
            """,
            "r/tasks.py": "from r.worker import app\n\n@app.task\ndef go():\n    pass\n",
        }
    )
    task = task_named(root, "go")
    assert task.option("queue").value == "web"
    assert task.option("acks_late").value is True
    assert task.option("time_limit").value == 120
    assert task.option("time_limit").location.path == "r/settings/prod.py"


def test_django_configurations_class_named_by_the_environment(project):
    root = project(
        {
            "k/__init__.py": "",
            "k/settings.py": """
                from configurations import Configuration

                class Dev(Configuration):
                    CELERY_TASK_DEFAULT_QUEUE = "dev-work"

                class Prod(Configuration):
                    CELERY_TASK_DEFAULT_QUEUE = "prod-work"
            """,
            "k/celery.py": """
                import os
                from celery import Celery
                os.environ.setdefault("DJANGO_SETTINGS_MODULE", "k.settings")
                os.environ.setdefault("DJANGO_CONFIGURATION", "Prod")
                app = Celery("k")
                app.config_from_object("django.conf:settings", namespace="CELERY")
            """,
            "k/tasks.py": "from k.celery import app\n\n@app.task\ndef go():\n    pass\n",
        }
    )
    assert task_named(root, "go").option("queue").value == "prod-work"


def test_django_rq_and_djhuey_decorators(project):
    root = project(
        {
            "a/__init__.py": "",
            "a/rqjobs.py": "from django_rq import job\n\n@job('high')\ndef index(pk):\n    pass\n",
            "a/hjobs.py": "from huey.contrib.djhuey import db_task, db_periodic_task\nfrom huey import crontab\n\n"
            "@db_task(retries=2)\ndef mail(pk):\n    pass\n\n@db_periodic_task(crontab(minute='*/5'))\ndef tick():\n    pass\n",
            "a/dh.py": "from django_huey import task as huey_task\n\n@huey_task(queue='emails')\ndef welcome(pk):\n    pass\n",
        }
    )
    assert task_named(root, "index").option("queue").value == "high"
    assert task_named(root, "mail").option("retries").value == 2
    assert task_named(root, "tick").option("periodic").value is True
    assert task_named(root, "welcome").framework == "huey"


def test_registry_wrapper_like_warehouse(project):
    root = project(
        {
            "wh/__init__.py": "",
            "wh/tasks.py": """
                import celery

                def task(**kwargs):
                    kwargs.setdefault("shared", False)

                    def deco(wrapped):
                        def callback(scanner, name, wrapped):
                            celery_app = scanner.config.registry["celery.app"]
                            celery_app.task(**kwargs)(wrapped)

                        return wrapped

                    return deco
            """,
            "wh/email.py": "from wh import tasks\n\n@tasks.task(bind=True, acks_late=True)\ndef send(task, request):\n    pass\n",
        }
    )
    task = task_named(root, "send")
    assert task.framework == "celery"
    assert task.option("acks_late").value is True


def test_decorator_class_like_treeherder(project):
    root = project(
        {
            "th/__init__.py": "",
            "th/task.py": """
                from functools import wraps

                from celery import shared_task


                class retryable_task:
                    def __init__(self, *args, **kwargs):
                        self.task_args = args
                        self.task_kwargs = kwargs

                    def __call__(self, f):
                        @wraps(f)
                        def inner(*args, **kwargs):
                            try:
                                return f(*args, **kwargs)
                            except Exception as e:
                                raise task_func.retry(exc=e, countdown=10)

                        task_func = shared_task(*self.task_args, **self.task_kwargs)(inner)
                        return task_func
            """,
            "th/jobs.py": "from th.task import retryable_task\n\n@retryable_task(name='parse', max_retries=10)\ndef parse_logs(job_id):\n    pass\n",
        }
    )
    task = task_named(root, "parse_logs")
    assert task.framework == "celery"
    assert task.option("max_retries").value == 10
    assert task.option("name").value == "parse"
    assert [t.qualname for t in tasks_of(root)] == ["th.jobs.parse_logs"]  # not `inner`, not the class


def test_wrapper_inner_function_is_not_a_task(project):
    root = project(
        {
            "p/__init__.py": """
                import functools
                import dramatiq

                def actor(queue_name=None, **options):
                    def decorator(fn):
                        @functools.wraps(fn)
                        def wrapped(*args, **kwargs):
                            return fn(*args, **kwargs)

                        dramatiq.actor(wrapped, queue_name=queue_name, **options)
                        return wrapped

                    return decorator
            """,
            "p/jobs.py": "from p import actor\n\n@actor(queue_name='x', max_retries=1)\ndef go():\n    pass\n",
        }
    )
    names = [t.qualname for t in tasks_of(root)]
    assert names == ["p.jobs.go"]
    assert task_named(root, "go").option("retries").value == 1


def test_non_task_lookalikes_are_not_tasks(project):
    root = project(
        {
            "x/__init__.py": "",
            "x/lookalike.py": """
                import invoke

                @invoke.task
                def deploy(c):
                    pass

                def task(f):
                    return f

                @task
                def local(c):
                    pass

                class Job:
                    def run(self):
                        pass
            """,
        }
    )
    assert tasks_of(root) == []


def test_a_class_redefined_under_the_same_name_has_its_own_bases(project):
    root = project(
        {
            "tasks.py": """
                from celery import Celery, Task

                app = Celery("p1")

                class Job(object):
                    def run(self, order_id):
                        pass

                class Job(Task):
                    def run(self, order_id):
                        pass
            """,
        }
    )
    assert [task.qualname for task in tasks_of(root)] == ["tasks.Job"]


def test_task_defined_after_use_and_nested_scopes(project):
    root = project(
        {
            "n/__init__.py": "",
            "n/app.py": """
                from celery import Celery

                def setup(app):
                    @app.task(name="n.heartbeat")
                    def heartbeat():
                        pass

                app = Celery("n")
            """,
        }
    )
    # `app` inside setup() is a parameter: unknown, so nothing is claimed
    assert tasks_of(root) == []


def test_beat_schedule_entries_are_enqueue_sites(project):
    root = project(
        {
            "b/__init__.py": "",
            "b/app.py": """
                from celery import Celery

                app = Celery("b")
                app.conf.beat_schedule = {
                    "nightly": {"task": "b.jobs.nightly", "schedule": 3600.0, "options": {"expires": 600}},
                    "hourly": {"task": "b.jobs.hourly", "schedule": 60.0},
                    "daily": {"task": "b.jobs.daily", "schedule": 86400.0},
                }
            """,
            "b/jobs.py": """
                import requests
                from b.app import app

                @app.task(queue="q")
                def nightly():
                    requests.post("https://x.example", headers={"Idempotency-Key": "n"})

                @app.task(queue="q")
                def hourly():
                    requests.post("https://x.example", headers={"Idempotency-Key": "h"})

                @app.task(queue="q")
                def daily():
                    requests.post("https://x.example", headers={"Idempotency-Key": "d"})
            """,
        }
    )
    result = run_on(root, {"JC801"})
    beats = {s.task: dict(s.options) for s in result.project.enqueue_sites if s.api == "beat"}
    assert beats == {"b.jobs.nightly": {"expires": 600}, "b.jobs.hourly": {}, "b.jobs.daily": {}}
    # at each schedule entry's key, not the def (and not all at the start of the schedule)
    found = [(f.task, f.location.path, f.location.line, f.location.col) for f in result.findings]
    assert found == [("b.jobs.hourly", "b/app.py", 6, 4), ("b.jobs.daily", "b/app.py", 7, 4)]


def test_rq_default_queues_for_jc401(project):
    root = project(
        {
            "r/__init__.py": "",
            "r/jobs.py": """
                import django_rq
                from django_rq import job

                @job
                def bare():
                    pass

                @job("high")
                def named():
                    pass

                def loose():
                    pass

                def send():
                    django_rq.enqueue(loose)
                    django_rq.get_queue("low").enqueue(named)
            """,
        }
    )
    found = sorted(f.task.rsplit(".", 1)[-1] for f in run_on(root, {"JC401"}).findings)
    assert found == ["bare", "loose"]


def test_options_passed_with_double_star_may_name_the_queue_and_expiry(project):
    """`apply_async(args, **options)` (nautobot's job runner) may set `queue` and `expires`:
    JC401 and JC801 do not claim that no enqueue site sets them. `delay(**kwargs)` passes the
    task's own arguments."""
    root = project(
        {
            "n/__init__.py": "",
            "n/jobs.py": """
                import requests
                from celery import shared_task

                @shared_task(time_limit=60)
                def run_job(url):
                    requests.post(url)

                @shared_task(time_limit=60)
                def plain(url):
                    requests.post(url)

                @shared_task(time_limit=60)
                def by_delay(url, **extra):
                    requests.post(url)

                def enqueue(url, options):
                    run_job.apply_async(args=[url], **options)
                    plain.apply_async(args=[url], countdown=1)
                    by_delay.delay(url, **options)
            """,
        }
    )
    found = sorted((f.code, f.task.rsplit(".", 1)[-1]) for f in run_on(root, {"JC401", "JC801"}).findings)
    assert found == [("JC401", "by_delay"), ("JC401", "plain"), ("JC801", "by_delay"), ("JC801", "plain")]


def test_declared_enqueue_functions_by_name_and_reference(project):
    root = project(
        {
            "pyproject.toml": '[tool.jobcheck.enqueue-functions]\n"p.worker.enqueue_job" = "dramatiq"\n',
            "p/__init__.py": "",
            "p/worker.py": "def enqueue_job(actor, *args, **kwargs):\n    pass\n",
            "p/jobs.py": """
                import dramatiq
                from p.worker import enqueue_job

                @dramatiq.actor(actor_name="order.created", queue_name="orders")
                def order_created(order_id):
                    pass

                @dramatiq.actor(queue_name="orders")
                def order_paid(order_id):
                    pass

                def on_checkout(order_id):
                    enqueue_job("order.created", order_id)
                    enqueue_job(order_paid, order_id)
            """,
        }
    )
    sites = {(s.api, s.task) for s in run_on(root, {"JC001"}).project.enqueue_sites}
    assert sites == {("enqueue_job", "p.jobs.order_created"), ("enqueue_job", "p.jobs.order_paid")}


def test_beat_schedule_with_crontab_values(project):
    root = project(
        {
            "c/__init__.py": "",
            "c/app.py": """
                from celery import Celery
                from celery.schedules import crontab

                app = Celery("c")
                app.conf.beat_schedule = {
                    "nightly": {"task": "c.app.nightly", "schedule": crontab(hour=3), "options": {"queue": "cron"}},
                }

                @app.task
                def nightly():
                    pass
            """,
        }
    )
    sites = [s for s in run_on(root, {"JC001"}).project.enqueue_sites if s.api == "beat"]
    assert [(s.task, dict(s.options)) for s in sites] == [("c.app.nightly", {"queue": "cron"})]


def test_option_values_are_displayed_as_written_values():
    from jobcheck.model import BinOp, Collection, Const, Name
    from jobcheck.report.tasks import display

    retry_kwargs = Collection("dict", (Name("tasks.MAX", "global"),), (Const("max_retries"),))
    assert display(retry_kwargs) == {"max_retries": "tasks.MAX"}
    assert display(BinOp("Add", Const(1), Name("x", "local"))) == "<computed>"
    assert display(Collection("tuple", (Const(1), Name("E", "global")))) == [1, "E"]


def test_settings_module_named_for_deployment_falls_back_to_its_closest_variant(project):
    """oncall: `settings.prod` is written at deploy time; `settings.prod_without_db` extends it."""
    root = project(
        {
            "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'settings.dev')\n",
            "settings/__init__.py": "",
            "settings/base.py": "CELERY_TASK_ACKS_LATE = True\n",
            "settings/dev.py": "from .base import *\nCELERY_TASK_ACKS_LATE = False\n",
            "settings/prod_without_db.py": "from .base import *\nCELERY_TASK_ROUTES = {'eng.tasks.*': {'queue': 'eng'}}\n",
            "eng/__init__.py": "",
            "eng/celery.py": """
                import os

                from celery import Celery

                os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.prod")
                app = Celery("eng")
                app.config_from_object("django.conf:settings", namespace="CELERY")
            """,
            "eng/tasks.py": "from eng.celery import app\n\n@app.task\ndef sync():\n    pass\n",
        }
    )
    task = task_named(root, "sync")
    assert task.option("acks_late").value is True
    assert task.option("queue").value == "eng"


def test_a_base_class_from_another_package_may_set_limits(project):
    root = project(
        {
            "ow/__init__.py": "",
            "ow/tasks.py": """
                import abc

                from celery import Task, shared_task
                from openwisp_utils.tasks import OpenwispCeleryTask


                class ApiTask(OpenwispCeleryTask):
                    pass


                class Plain(Task, abc.ABC):
                    pass


                @shared_task(base=OpenwispCeleryTask)
                def direct():
                    pass


                @shared_task(base=ApiTask)
                def through_project_class():
                    pass


                @shared_task(base=Plain)
                def plain():
                    pass
            """,
        }
    )
    for name in ("direct", "through_project_class"):
        limit = task_named(root, name).option("time_limit")
        assert isinstance(limit.value, Unknown) and "openwisp_utils.tasks.OpenwispCeleryTask" in limit.source
    assert task_named(root, "plain").option("time_limit").value is None
    found = run_on(root, {"JC803"}).findings
    assert [f.task.rsplit(".", 1)[-1] for f in found] == ["plain"]


def test_django_split_settings_includes_are_read(project):
    """DefectDojo: `include("settings.dist.py", optional("local_settings.py"))`, a limit set in an `if`."""
    root = project(
        {
            "dd/__init__.py": "",
            "dd/settings/__init__.py": "",
            "dd/settings/settings.py": 'from split_settings.tools import include, optional\n\ninclude("settings.dist.py", optional("local_settings.py"))\n',
            "dd/settings/settings.dist.py": "import environ\nenv = environ.Env()\nCELERY_TASK_ACKS_LATE = True\nif env('LIMIT') > 0:\n    CELERY_TASK_TIME_LIMIT = env('LIMIT')\n",
            "dd/celery.py": """
                import os

                from celery import Celery

                os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dd.settings.settings")
                app = Celery("dd")
                app.config_from_object("django.conf:settings", namespace="CELERY")
            """,
            "dd/tasks.py": "from dd.celery import app\n\n@app.task\ndef sync():\n    pass\n",
        }
    )
    task = task_named(root, "sync")
    assert task.option("acks_late").value is True
    assert "CELERY_TASK_TIME_LIMIT" in task.option("time_limit").source
    assert run_on(root, {"JC803"}).findings == []


def test_flask_rq_extension_jobs(project):
    """funnel: `rq = RQ()` (Flask-RQ) in the package, `@rq.job(queue=...)` elsewhere, `job.enqueue(...)`."""
    root = project(
        {
            "fn/__init__.py": "from flask_rq import RQ\n\nrq = RQ()\n",
            "fn/jobs.py": """
                from . import rq

                @rq.job(queue="funnel")
                def import_tickets(client_id):
                    pass

                def on_save(client_id):
                    import_tickets.enqueue(client_id)
            """,
        }
    )
    task = task_named(root, "import_tickets")
    assert task.framework == "rq" and task.option("queue").value == "funnel"
    sites = run_on(root, {"JC001"}).project.enqueue_sites
    assert [(s.api, s.task) for s in sites] == [("enqueue", "fn.jobs.import_tickets")]
