"""The bands pages: thin views over bands.services. A band's pages are for its members;
anyone else gets a 404, never a hint that the band exists."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.mail import requester_of, site_url
from bands import selectors, services
from bands.forms import BandForm, InviteForm
from bands.models import Membership
from bands.roles import ROLES, roles_given_by, roles_offered
from bands.services import BandError

INVALID_INVITATION = "This invitation is no longer valid."


def _membership_or_404(request, band_id) -> Membership:
    """The requesting user's membership of the band; 404 for anyone not in it."""
    membership = selectors.membership_of(user_id=request.user.pk, band_id=band_id)
    if membership is None:
        raise Http404("No such band.")
    return membership


def _member_or_404(band, user_id: int):
    """A member of the band by user id (404 if they are not in it)."""
    membership = get_object_or_404(
        Membership.objects.select_related("user"), band=band, user_id=user_id
    )
    return membership.user


@require_GET
@login_required
def band_list(request):
    return render(
        request,
        "bands/list.html",
        {
            "memberships": selectors.memberships_of(user_id=request.user.pk),
            "invitations": selectors.invitations_for(user=request.user),
        },
    )


@require_http_methods(["GET", "POST"])
@login_required
def band_create(request):
    form = BandForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.band_create(owner=request.user, name=form.cleaned_data["name"])
        except BandError as error:
            form.add_error("name", str(error))
        else:
            messages.success(request, f"{membership.band.name} is ready. Invite your bandmates.")
            return redirect("bands:detail", membership.band_id)
    return render(request, "bands/create.html", {"form": form})


@require_GET
@login_required
def band_detail(request, band_id):
    membership = _membership_or_404(request, band_id)
    band = membership.band
    members = list(selectors.band_members(band_id=band.pk))
    return render(
        request,
        "bands/detail.html",
        {
            "band": band,
            "membership": membership,
            "members": members,
            # Each member with the roles I may move them to (none: not mine to change).
            "member_rows": [
                (member, roles_offered(membership.rights, member.rights)) for member in members
            ],
            "roles": ROLES,
            "invitations": (
                selectors.pending_invitations(band_id=band.pk) if membership.can_invite else ()
            ),
            "invite_form": InviteForm(roles=roles_given_by(membership.rights)),
        },
    )


@require_POST
@login_required
def band_invite(request, band_id):
    band = _membership_or_404(request, band_id).band
    form = InviteForm(request.POST)
    if not form.is_valid():
        if "username_or_email" in form.errors:
            messages.error(request, "Enter a username or an e-mail address.")
        else:
            messages.error(request, "Choose one of the roles offered.")
        return redirect("bands:detail", band.pk)
    wanted = form.cleaned_data["username_or_email"]
    try:
        invitation = services.band_invite(
            band=band,
            by=request.user,
            username_or_email=wanted,
            role=form.cleaned_data["role"] or Membership.Role.MEMBER,
            site_url=site_url(request),
            requester=requester_of(request),
        )
    except BandError as error:
        messages.error(request, str(error))
    else:
        joins_as = ""
        if invitation.role != Membership.Role.MEMBER:
            joins_as = f", to join as {invitation.rights.with_article}"
        messages.success(request, f"Invitation sent to {wanted.strip()}{joins_as}.")
    return redirect("bands:detail", band.pk)


@require_POST
@login_required
def invitation_withdraw(request, band_id, invitation_id: int):
    band = _membership_or_404(request, band_id).band
    try:
        services.band_invitation_withdraw(band=band, by=request.user, invitation_id=invitation_id)
    except BandError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Invitation withdrawn: its link no longer works.")
    return redirect("bands:detail", band.pk)


@require_POST
@login_required
def band_leave(request, band_id):
    band = _membership_or_404(request, band_id).band
    try:
        deleted = services.band_leave(band=band, user=request.user)
    except BandError as error:
        messages.error(request, str(error))
        return redirect("bands:detail", band.pk)
    if deleted:
        messages.success(request, f"You left {band.name}. It had no other members, so it is gone.")
    else:
        messages.success(request, f"You left {band.name}.")
    return redirect("bands:list")


@require_POST
@login_required
def member_remove(request, band_id, user_id: int):
    band = _membership_or_404(request, band_id).band
    user = _member_or_404(band, user_id)
    try:
        services.band_remove_member(band=band, by=request.user, user=user)
    except BandError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{user.username} is no longer in {band.name}.")
    return redirect("bands:detail", band.pk)


@require_POST
@login_required
def member_role(request, band_id, user_id: int):
    band = _membership_or_404(request, band_id).band
    user = _member_or_404(band, user_id)
    try:
        membership = services.band_set_role(
            band=band, by=request.user, user=user, role=request.POST.get("role", "")
        )
    except BandError as error:
        messages.error(request, str(error))
    else:
        role = membership.rights.with_article
        messages.success(request, f"{user.username} is now {role} of {band.name}.")
    return redirect("bands:detail", band.pk)


@require_POST
@login_required
def member_make_owner(request, band_id, user_id: int):
    band = _membership_or_404(request, band_id).band
    user = _member_or_404(band, user_id)
    try:
        services.band_transfer_ownership(band=band, by=request.user, user=user)
    except BandError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{user.username} owns {band.name} now; you are an admin.")
    return redirect("bands:detail", band.pk)


@require_http_methods(["GET", "POST"])
@login_required
def invitation(request, token: str):
    """The link in an invitation e-mail. GET shows the band and the inviter with Accept and
    Decline buttons and changes nothing (mail scanners fetch links); POST answers."""
    if request.method == "GET":
        found = selectors.invitation_for_token(token=token)
        if found is None:
            return _invalid_invitation(request, INVALID_INVITATION)
        for_me = selectors.invitation_is_for(found, request.user)
        already = selectors.membership_of(user_id=request.user.pk, band_id=found.band_id)
        return render(
            request,
            "bands/invitation.html",
            {"invitation": found, "for_me": for_me, "already_member": already is not None},
            status=200 if for_me else 403,
        )
    return _answer(request, token=token)


@require_POST
@login_required
def invitation_answer(request, invitation_id: int):
    """Accept or Decline on the account page (the invitation by id, for this user only)."""
    return _answer(request, invitation_id=invitation_id)


def _answer(request, **which):
    answer = request.POST.get("answer")
    try:
        if answer == "accept":
            membership = services.band_invitation_accept(user=request.user, **which)
        elif answer == "decline":
            declined = services.band_invitation_decline(user=request.user, **which)
        else:
            messages.error(request, "Choose Accept or Decline.")
            return redirect("bands:list")
    except BandError as error:
        if "token" in which:
            return _invalid_invitation(request, str(error))
        messages.error(request, str(error))
        return redirect("bands:list")
    if answer == "accept":
        messages.success(request, f"Welcome to {membership.band.name}!")
        return redirect("bands:detail", membership.band_id)
    messages.success(request, f"You declined the invitation to {declined.band.name}.")
    return redirect("bands:list")


def _invalid_invitation(request, problem: str):
    return render(request, "bands/invitation_invalid.html", {"problem": problem}, status=404)
