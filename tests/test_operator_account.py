import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command


@pytest.mark.django_db
def test_make_run_creates_the_operator_from_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("ADMIN_USER", "ops")
    monkeypatch.setenv("ADMIN_PASSWORD", "a-long-test-password")

    call_command("ensure_operator")

    user = get_user_model().objects.get(username="ops")
    assert user.is_superuser and user.is_staff and user.check_password("a-long-test-password")
    assert "created" in capsys.readouterr().out


@pytest.mark.django_db
def test_without_the_variables_it_says_how_to_create_one(monkeypatch, capsys):
    monkeypatch.delenv("ADMIN_USER", raising=False)
    monkeypatch.delenv("ADMIN_PASSWORD", raising=False)

    call_command("ensure_operator")

    assert "createsuperuser" in capsys.readouterr().out
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_a_second_start_keeps_the_operator_logged_in(monkeypatch, client):
    monkeypatch.setenv("ADMIN_USER", "ops")
    monkeypatch.setenv("ADMIN_PASSWORD", "a-long-test-password")
    call_command("ensure_operator")
    assert client.login(username="ops", password="a-long-test-password")
    assert client.get("/admin/").status_code == 200

    call_command("ensure_operator")  # the next `make run`

    assert client.get("/admin/").status_code == 200, "logged out of the admin"


@pytest.mark.django_db
def test_an_operator_account_made_inactive_is_made_active_again(monkeypatch):
    monkeypatch.setenv("ADMIN_USER", "ops")
    monkeypatch.setenv("ADMIN_PASSWORD", "a-long-test-password")
    call_command("ensure_operator")
    get_user_model().objects.filter(username="ops").update(is_active=False)

    call_command("ensure_operator")

    assert get_user_model().objects.get(username="ops").is_active
