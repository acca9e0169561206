"""JC403: worker declarations read from the files that start processes, never executed."""

import json
import textwrap

from conftest import run_on
from jobcheck.workers import DEFAULT, EVERY, find_workers

CELERY_TASKS = """
from celery import Celery

app = Celery("shop")
app.conf.task_default_queue = "default"
app.conf.task_routes = {"shop.tasks.send_receipt": {"queue": "emails"}, "shop.tasks.charge": {"queue": "payments"}}


@app.task(time_limit=60, expires=60)
def send_receipt(order_id):
    return order_id


@app.task(time_limit=60, expires=60)
def charge(order_id):
    return order_id


@app.task(time_limit=60, expires=60, queue="default")
def ping():
    return None
"""


def unconsumed(root):
    return sorted(f.message.split("`")[1] for f in run_on(root, {"JC403"}).findings)


def test_procfile_celery_queues(project):
    root = project({"shop/__init__.py": "", "shop/tasks.py": CELERY_TASKS})
    (root / "Procfile").write_text("web: gunicorn shop.wsgi\nworker: celery -A shop worker -Q default,emails -c 4\nbeat: celery -A shop beat\n")
    assert unconsumed(root) == ["payments"]


def test_compose_and_kubernetes_commands(project):
    root = project({"shop/__init__.py": "", "shop/tasks.py": CELERY_TASKS})
    (root / "docker-compose.yml").write_text(
        textwrap.dedent(
            """
            services:
              worker:
                image: shop
                command: celery -A shop worker --queues=emails
            """
        )
    )
    (root / "k8s").mkdir()
    (root / "k8s" / "payments.yaml").write_text(
        textwrap.dedent(
            """
            apiVersion: apps/v1
            kind: Deployment
            spec:
              template:
                spec:
                  containers:
                    - name: payments
                      command: ["celery"]
                      args: ["-A", "shop", "worker", "-Q", "payments"]
            ---
            kind: Service
            """
        )
    )
    assert unconsumed(root) == ["default"]  # `ping` goes to a queue no declared worker takes


def test_no_declared_worker_means_silence(project):
    root = project({"shop/__init__.py": "", "shop/tasks.py": CELERY_TASKS})
    (root / "docker-compose.yml").write_text("services:\n  web:\n    command: gunicorn shop.wsgi\n")
    assert unconsumed(root) == []


def test_a_celery_worker_without_queues_takes_the_default_queue(tmp_path):
    (tmp_path / "Procfile").write_text("worker: celery -A shop worker\n")
    assert find_workers(tmp_path, ()).queues == {"celery": {DEFAULT}}


def test_supervisor_systemd_rq_and_dramatiq(tmp_path):
    (tmp_path / "workers.conf").write_text("[program:rq]\ncommand=rq worker -u redis://r high default --burst\n")
    (tmp_path / "dramatiq.service").write_text("[Service]\nExecStart=/venv/bin/dramatiq shop.tasks -Q billing mail -p 2\n")
    (tmp_path / "Procfile.dev").write_text("django_rq: python manage.py rqworker low\ndram: dramatiq shop.tasks\n")
    workers = find_workers(tmp_path, ())
    assert workers.queues == {"rq": {"high", "default", "low"}, "dramatiq": {"billing", "mail", EVERY}}
    assert workers.sources == ["Procfile.dev", "dramatiq.service", "workers.conf"]


def test_quoted_or_escaped_command_words_are_read_as_the_shell_reads_them(tmp_path):
    (tmp_path / "Procfile").write_text(
        "a: celery -A proj \"work\"er -Q high\nb: celery -A proj work\\er -Q low\nc: python -m \"drama\"tiq app -Q mail\n"
    )
    assert find_workers(tmp_path, ()).queues == {"celery": {"high", "low"}, "dramatiq": {"mail"}}


def test_configured_worker_queues_win(project):
    root = project({"shop/__init__.py": "", "shop/tasks.py": CELERY_TASKS})
    (root / "pyproject.toml").write_text('[tool.jobcheck]\nworker-queues = ["default", "payments"]\n')
    (root / "Procfile").write_text("worker: celery -A shop worker -Q emails\n")
    assert unconsumed(root) == ["emails"]


def test_broken_yaml_is_skipped(tmp_path):
    (tmp_path / "compose.yaml").write_text("services: [unclosed\n")
    assert find_workers(tmp_path, ()).queues == {}


def test_queues_named_at_deploy_time_are_unknown(tmp_path):
    (tmp_path / "worker.conf").write_text("[program:w]\ncommand=rq worker %(ENV_QUEUES)s\n")
    (tmp_path / "Procfile").write_text("worker: celery -A shop worker -Q $CELERY_QUEUES\n")
    assert find_workers(tmp_path, ()).queues == {"rq": {EVERY}, "celery": {EVERY}}


def test_tasks_lists_queues_and_who_consumes_them(project):
    import subprocess
    import sys

    root = project({"shop/__init__.py": "", "shop/tasks.py": CELERY_TASKS})
    (root / "Procfile").write_text("worker: celery -A shop worker -Q default,emails\n")
    completed = subprocess.run(
        [sys.executable, "-m", "jobcheck", "tasks", "--output-format", "json", "."], cwd=root, capture_output=True, text=True
    )
    queues = {q["queue"]: q for q in json.loads(completed.stdout)["queues"]}
    assert queues["emails"]["tasks"] == ["send_receipt"] and queues["emails"]["consumed_by"] == "consumed: Procfile"
    assert queues["payments"]["consumed_by"] == "NOT consumed by the declared workers"
    assert queues["default"]["tasks"] == ["ping"]


def test_rq_worker_pool(tmp_path):
    (tmp_path / "Procfile").write_text("workers: rq worker-pool high low -n 4\n")
    assert find_workers(tmp_path, ()).queues == {"rq": {"high", "low"}}


def test_shell_entrypoints_and_dockerfiles(tmp_path):
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "entrypoint_prod.sh").write_text(
        "#!/bin/bash\n"
        'if [ "$1" == "worker_log_parser" ]; then\n'
        "    exec newrelic-admin run-program celery -A app worker --without-gossip \\\n"
        "        -Q log_parser --concurrency=7\n"
        "fi\n"
        "# celery -A app worker -Q commented_out\n"
    )
    (tmp_path / "Dockerfile.worker").write_text('FROM python:3.12\nCMD ["celery", "-A", "app", "worker", "-Q", "mail"]\n')
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "run.sh").write_text("celery -A app worker -Q only_in_tests\n")
    workers = find_workers(tmp_path, ())
    assert workers.queues == {"celery": {"log_parser", "mail"}}
    assert workers.sources == ["Dockerfile.worker", "docker/entrypoint_prod.sh"]


def test_large_or_binary_scripts_are_skipped(tmp_path):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "blob").write_bytes(b"\0celery worker -Q x\n" * 70000)
    assert find_workers(tmp_path, ()).queues == {}


def test_a_celery_worker_without_queues_consumes_every_queue_of_task_queues(project):
    """`celery worker` with no -Q consumes the queues of `task_queues` (Celery's routing guide)."""
    tasks = CELERY_TASKS.replace(
        'app.conf.task_default_queue = "default"\n',
        'app.conf.task_default_queue = "default"\n'
        "app.conf.task_queues = (Queue(\"default\"), Queue(\"emails\", routing_key=\"emails\"))\n",
    ).replace("from celery import Celery\n", "from celery import Celery\nfrom kombu import Queue\n")
    root = project({"shop/__init__.py": "", "shop/tasks.py": tasks})
    (root / "Procfile").write_text("worker: celery -A shop worker\n")
    assert unconsumed(root) == ["payments"]


def test_a_task_queues_value_that_cannot_be_read_may_hold_any_queue(project):
    tasks = CELERY_TASKS.replace(
        'app.conf.task_default_queue = "default"\n',
        'app.conf.task_default_queue = "default"\napp.conf.task_queues = [Queue(name) for name in NAMES]\n',
    )
    root = project({"shop/__init__.py": "", "shop/tasks.py": tasks})
    (root / "Procfile").write_text("worker: celery -A shop worker\n")
    assert unconsumed(root) == []
    (root / "Procfile").write_text("worker: celery -A shop worker -Q default,emails\n")  # a named list is exact
    assert unconsumed(root) == ["payments"]


def test_task_queues_from_a_configuration_module_with_the_old_name(project):
    tasks = CELERY_TASKS.replace(
        'app.conf.task_default_queue = "default"\n', 'app.config_from_object("shop.celeryconfig")\n'
    )
    root = project(
        {
            "shop/__init__.py": "",
            "shop/tasks.py": tasks,
            "shop/celeryconfig.py": "from kombu import Queue\n\nCELERY_QUEUES = (Queue('default'), Queue('emails'))\n",
        }
    )
    (root / "Procfile").write_text("worker: celery -A shop worker\n")
    assert unconsumed(root) == ["payments"]


def queued_tasks(settings: str, app: str = "shop") -> str:
    """Three tasks, each on its own queue (`default`, `emails`, `payments`), after `settings`."""
    return (
        "from celery import Celery\nfrom kombu import Queue\n\n"
        f"app = Celery({app!r})\n{textwrap.dedent(settings)}\n"
        + "".join(
            f"\n@app.task(time_limit=60, expires=60, queue={queue!r})\ndef to_{queue}():\n    pass\n"
            for queue in ("default", "emails", "payments")
        )
    )


def test_queues_excluded_with_x_are_not_consumed(project):
    tasks = queued_tasks('app.conf.task_queues = (Queue("default"), Queue("emails"), Queue("payments"))')
    root = project({"shop/__init__.py": "", "shop/tasks.py": tasks})
    (root / "Procfile").write_text("worker: celery -A shop worker -X payments\nmail: celery -A shop worker -Q emails,payments --exclude-queues=payments\n")
    assert unconsumed(root) == ["payments"]


def test_a_worker_consumes_the_queues_of_the_app_it_names(project):
    root = project(
        {
            "shop/__init__.py": "",
            "shop/tasks.py": queued_tasks('app.conf.task_queues = (Queue("default"), Queue("emails"), Queue("payments"))'),
            "partners/__init__.py": "",
            "partners/tasks.py": queued_tasks('app.conf.task_default_queue = "default"', app="partners"),
        }
    )
    (root / "Procfile").write_text("worker: celery -A partners.tasks worker\n")
    # the worker runs the partners app, which consumes only its default queue: shop's
    # task_queues say nothing of what it consumes
    assert unconsumed(root) == ["emails", "emails", "payments", "payments"]


def test_task_queues_none_empty_or_read_through_constants(project):
    for settings, missed in [
        ("app.conf.task_queues = None", ["emails", "payments"]),
        ("app.conf.task_queues = ()", ["emails", "payments"]),
        ('EMAILS = "emails"\napp.conf.task_queues = (Queue("default"), Queue(EMAILS))', ["payments"]),
        # with task_queues set, the default queue is not consumed unless it is one of them
        ('app.conf.task_queues = (Queue("emails"), Queue("payments"))', ["default"]),
    ]:
        root = project({"shop/__init__.py": "", "shop/tasks.py": queued_tasks('app.conf.task_default_queue = "default"\n' + settings)})
        (root / "Procfile").write_text("worker: celery -A shop worker\n")
        assert unconsumed(root) == missed, settings


def test_the_new_setting_name_wins_over_the_old_one(project):
    root = project(
        {
            "shop/__init__.py": "",
            "shop/settings.py": (
                "from kombu import Queue\n\n"
                "CELERY_TASK_QUEUES = (Queue('default'), Queue('emails'))\n"
                "CELERY_QUEUES = (Queue('default'), Queue('emails'), Queue('payments'))\n"
            ),
            "shop/tasks.py": queued_tasks('app.config_from_object("shop.settings", namespace="CELERY")'),
        }
    )
    (root / "Procfile").write_text("worker: celery -A shop worker\n")
    assert unconsumed(root) == ["payments"]
