"""Messages name the task, the concrete API or write, and the fix that fits the framework."""

import pytest

from conftest import FIXTURES, run_on


@pytest.fixture(scope="module")
def messages():
    result = run_on(FIXTURES, codes=None)
    return {(f.location.path, f.location.line, f.code): f.message for f in result.findings}


def message_at(messages, path, text, code):
    """The message of `code` on the line of a fixture file that contains `text`."""
    lines = (FIXTURES.parent / path).read_text(encoding="utf-8").splitlines()
    number = next(i for i, line in enumerate(lines, start=1) if text in line)
    return messages[(path, number, code)]


def test_jc502_suggests_the_framework_fix(messages):
    celery = message_at(messages, "fixtures/celery/shop/orders.py", "    charge_order.delay(order.pk)", "JC502")
    assert "`charge_order` is enqueued inside a database transaction" in celery
    assert "Use `delay_on_commit` or `transaction.on_commit(...)`." in celery
    dramatiq = message_at(messages, "fixtures/dramatiq/worker/tasks.py", "        charge_card.send(order_id)", "JC502")
    assert "`charge_card` is enqueued" in dramatiq
    assert "`transaction.on_commit(lambda: ...)`" in dramatiq and "delay_on_commit" not in dramatiq


def test_jc301_names_the_retry_setting_and_the_effect(messages):
    message = message_at(messages, "fixtures/celery/shop/payments.py", "def settle_order", "JC301")
    lines = (FIXTURES / "celery/shop/payments.py").read_text(encoding="utf-8").splitlines()
    raise_line = next(i for i, line in enumerate(lines, start=1) if "raise CardExpired(order_id)" in line)
    retry_line = next(i for i, line in enumerate(lines, start=1) if "raise task.retry(countdown=5)" in line)
    assert message.startswith("`settle_order` is retried (up to 3 times, from decorator)")
    assert "`Payment.objects.create` has no guard" in message
    assert f"a retry triggered at fixtures/celery/shop/payments.py:{raise_line}:" in message
    helper = message_at(messages, "fixtures/celery/shop/payments.py", "def record_then_retry_in_helper", "JC301")
    assert f"a retry triggered at fixtures/celery/shop/payments.py:{retry_line}:" in helper
    anywhere = message_at(messages, "fixtures/celery/shop/payments.py", "def record_retrying_anything", "JC301")
    assert "retried by autoretry_for" in anywhere and "a failure after it makes the retry repeat it" in anywhere


def test_jc101_names_the_api_and_the_way_it_is_reached(messages):
    direct = message_at(messages, "fixtures/celery/shop/orders.py", 'requests.post("https://pay.example/charges", json', "JC101")
    assert direct.startswith("`charge_order` calls `requests.post` (http POST) with no idempotency key")
    helper = message_at(messages, "fixtures/celery/shop/orders.py", "record_payment(order_id, amount)", "JC101")
    assert "inserts with `Payment.objects.create` (through a helper)" in helper
