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
