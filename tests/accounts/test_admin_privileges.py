"""No privilege escalation through the admin (issue 22, item 2): eve, a staff member, tries
every way to gain or hand out a role from each set of admin permissions, with real POSTs to
the admin's forms; the database and the audit log say what happened."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.urls import reverse

from audit.models import AuditEntry

# A staff member's admin permissions, from least to most ("superuser" is the flag itself).
PERMISSION_SETS = {
    "view only": ("view_user", "view_group"),
    "change_user only": ("view_user", "change_user"),
    "change_user and change_group": ("view_user", "change_user", "view_group", "change_group"),
    "add_user": ("view_user", "add_user"),
    "every user and group permission": (
        "view_user",
        "add_user",
        "change_user",
        "delete_user",
        "view_group",
        "add_group",
        "change_group",
        "delete_group",
    ),
}
ROLE_ACTIONS = ("user.", "group.")


@pytest.fixture
def moderators(db):
    group = Group.objects.create(name="Moderators")
    group.permissions.add(Permission.objects.get(codename="moderate_track"))
    return group


@pytest.fixture
def root(db):
    return User.objects.create_superuser("root", "root@example.com", "root-password-42")


def _make_staff(codenames) -> User:
    eve = User.objects.create_user("eve", "eve@example.com", "eve-password-42", is_staff=True)
    eve.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return eve


@pytest.fixture(params=[*PERMISSION_SETS, "superuser"])
def attacker(request, db, client):
    """eve, logged in to the admin with one of the permission sets (or as a superuser)."""
    if request.param == "superuser":
        eve = User.objects.create_superuser("eve", "eve@example.com", "eve-password-42")
    else:
        eve = _make_staff(PERMISSION_SETS[request.param])
    client.force_login(eve)
    eve.kind = request.param
    return eve


def _change_form(user: User, **fields) -> dict:
    """What the admin's user change form posts, with ``fields`` on top."""
    return {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "last_login_0": "",
        "last_login_1": "",
        **fields,
    }


def _everything() -> dict:
    """Every role at once: the flags, the moderators' group, every permission there is."""
    return {
        "is_superuser": "on",
        "is_staff": "on",
        "groups": [str(g.pk) for g in Group.objects.all()],
        "user_permissions": [str(p.pk) for p in Permission.objects.all()],
    }


def _roles(user: User) -> tuple:
    user = User.objects.get(pk=user.pk)
    return (
        user.is_superuser,
        user.is_staff,
        set(user.groups.values_list("name", flat=True)),
        set(user.user_permissions.values_list("codename", flat=True)),
    )


def _role_entries():
    return AuditEntry.objects.filter(
        action__regex=r"^(user|group)\.(superuser|staff|group|permission|delete)"
    )


def test_a_staff_member_cannot_make_themselves_superuser_from_their_own_change_page(
    client, attacker, moderators
):
    before = _roles(attacker)
    url = reverse("admin:auth_user_change", args=[attacker.pk])
    response = client.post(url, _change_form(attacker, **_everything()))
    if attacker.kind == "superuser":
        assert response.status_code == 302
        is_superuser, is_staff, groups, permissions = _roles(attacker)
        assert is_superuser and is_staff and groups == {"Moderators"}
        assert "moderate_track" in permissions
        actions = set(_role_entries().values_list("action", flat=True))
        assert {"user.group.add", "user.permission.add"} <= actions
        return
    assert response.status_code in (302, 403)
    assert _roles(attacker) == before
    assert not _role_entries().exists()


def test_a_staff_member_cannot_hand_roles_to_an_ordinary_user(client, attacker, bob, moderators):
    url = reverse("admin:auth_user_change", args=[bob.pk])
    response = client.post(url, _change_form(bob, email="bob@example.org", **_everything()))
    if attacker.kind == "superuser":
        assert _roles(bob)[0] is True
        entry = _role_entries().get(action="user.superuser.grant")
        assert (entry.actor, entry.target_label) == (attacker, "bob")
        return
    assert _roles(bob) == (False, False, set(), set())
    assert not _role_entries().exists()
    may_change = "change_user" in PERMISSION_SETS[attacker.kind]
    assert response.status_code == (302 if may_change else 403)
    # What staff may change on an ordinary account, they do change.
    changed = User.objects.get(pk=bob.pk).email == "bob@example.org"
    assert changed is may_change


def test_a_staff_member_cannot_add_permissions_to_a_group_they_are_in_or_any_other(
    client, attacker, moderators
):
    attacker.groups.add(moderators)
    url = reverse("admin:auth_group_change", args=[moderators.pk])
    every = [str(p.pk) for p in Permission.objects.all()]
    response = client.post(url, {"name": "Moderators", "permissions": every})
    count = moderators.permissions.count()
    if attacker.kind == "superuser":
        assert response.status_code == 302 and count == len(every)
        assert _role_entries().filter(action="group.permission.add").count() == len(every) - 1
        return
    assert count == 1
    assert not _role_entries().exists()


def test_a_staff_member_cannot_add_a_user_who_holds_a_role(client, attacker, moderators):
    response = client.post(
        reverse("admin:auth_user_add"),
        {
            "username": "sock",
            "usable_password": "true",
            "password1": "a-long-Sock-password-42",
            "password2": "a-long-Sock-password-42",
            **_everything(),
        },
    )
    sock = User.objects.filter(username="sock").first()
    # Django asks for "change user" too before it shows the add form.
    held = PERMISSION_SETS.get(attacker.kind, ("add_user", "change_user"))
    may_add = {"add_user", "change_user"} <= set(held)
    assert response.status_code == (302 if may_add else 403)
    assert (sock is not None) is may_add
    if sock is not None:
        # The add form has no role fields, for a superuser too: roles come on the change page.
        assert _roles(sock) == (False, False, set(), set())


def test_a_staff_member_cannot_take_over_a_superuser_or_another_staff_account(
    client, attacker, root
):
    stan = User.objects.create_user("stan", "stan@example.com", "stan-password-42", is_staff=True)
    for target in (root, stan):
        change = client.post(
            reverse("admin:auth_user_change", args=[target.pk]),
            _change_form(target, email="eve@example.com", is_staff="on", is_superuser="on"),
        )
        password = client.post(
            reverse("admin:auth_user_password_change", args=[target.pk]),
            {"usable_password": "true", "password1": "taken-Over-42", "password2": "taken-Over-42"},
        )
        target = User.objects.get(pk=target.pk)
        if attacker.kind == "superuser":
            assert target.email == "eve@example.com" and target.check_password("taken-Over-42")
        else:
            assert (change.status_code, password.status_code) == (403, 403)
            assert target.email != "eve@example.com"
            assert not target.check_password("taken-Over-42")


def test_only_a_superuser_deletes_a_group_and_the_log_says_whose_permissions_went(
    client, attacker, moderators, bob
):
    bob.groups.add(moderators)
    url = reverse("admin:auth_group_delete", args=[moderators.pk])
    response = client.post(url, {"post": "yes"})
    if attacker.kind == "superuser":
        assert response.status_code == 302 and not Group.objects.exists()
        entry = _role_entries().get(action="group.delete")
        assert "tracks.moderate_track" in entry.reason and "bob" in entry.reason
        return
    assert response.status_code == 403
    assert Group.objects.filter(pk=moderators.pk).exists()


def test_taking_a_role_away_is_logged_too(client, root, moderator):
    client.force_login(root)
    url = reverse("admin:auth_user_change", args=[moderator.pk])
    response = client.post(url, _change_form(moderator))  # no staff flag, no permission
    assert response.status_code == 302
    actions = list(_role_entries().order_by("id").values_list("action", "reason"))
    assert actions == [
        ("user.staff.revoke", "staff status revoked"),
        ("user.permission.remove", "permission tracks.moderate_track taken away"),
    ]


def test_the_role_log_cannot_be_changed_or_deleted_even_by_a_superuser(client, root, bob):
    client.force_login(root)
    client.post(reverse("admin:auth_user_change", args=[bob.pk]), _change_form(bob, is_staff="on"))
    entry = _role_entries().get()
    assert entry.action == "user.staff.grant"
    change = reverse("admin:audit_auditentry_change", args=[entry.pk])
    delete = reverse("admin:audit_auditentry_delete", args=[entry.pk])
    client.post(change, {"reason": "nothing happened"})
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.get(pk=entry.pk).reason == "staff status granted"


def test_staff_who_may_delete_users_cannot_delete_a_privileged_account(client, root, bob):
    eve = _make_staff(PERMISSION_SETS["every user and group permission"])
    client.force_login(eve)
    refused = client.post(reverse("admin:auth_user_delete", args=[root.pk]), {"post": "yes"})
    assert refused.status_code == 403
    assert User.objects.filter(pk=root.pk).exists()
    done = client.post(reverse("admin:auth_user_delete", args=[bob.pk]), {"post": "yes"})
    assert done.status_code == 302
    assert not User.objects.filter(pk=bob.pk).exists()  # an account that holds nothing
