"""Members, invitations and sign-up: Settings › Members and the invitation link."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from console import permissions, selectors, services
from console.audit import Actor, client_ip
from console.forms import InvitationForm, MemberRoleForm, SignUpEmailForm, SignUpForm
from console.http import AuthenticatedRequest, HtmxHttpRequest
from console.models import Invitation, User
from console.permissions import Action
from console.ratelimit import RateLimited, rate_limit_consume
from console.view_helpers import form_errors_add, modal_done, organization_scope
from console.views import LAST_ORGANIZATION_SESSION_KEY, settings_context

# Logging in a user just created: the model backend is the only one configured.
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


@require_GET
@login_required
def organization_members(request: AuthenticatedRequest, organization_slug: str) -> HttpResponse:
    """Settings › Members: everyone's role (editable by admins), and pending invitations."""
    membership = organization_scope(request, organization_slug)
    organization = membership.organization
    can_manage = permissions.can(membership, Action.MANAGE_MEMBERS)
    context = {
        **settings_context(membership, "members"),
        "members": selectors.organization_members(organization=organization),
        "assignable_roles": permissions.assignable_roles(membership),
        "invitations": selectors.organization_open_invitations(organization=organization)
        if can_manage
        else [],
        "owner_count": selectors.organization_owner_count(organization=organization),
    }
    if request.htmx:
        # The invitations list refreshes itself after an invitation is created.
        return render(request, "console/organization_members.html#invitations", context)
    return render(request, "console/organization_members.html", context)


@require_POST
@login_required
def member_role_change(
    request: AuthenticatedRequest, organization_slug: str, membership_id: int
) -> HttpResponse:
    membership = organization_scope(request, organization_slug, action=Action.MANAGE_MEMBERS)
    target = selectors.organization_member(organization=membership.organization, membership_id=membership_id)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the roles to change it.")
    else:
        try:
            services.membership_role_change(
                membership=target,
                role=form.cleaned_data["role"],
                by=membership,
                actor=Actor.from_request(request),
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"{target.user.email} is now {target.get_role_display()}.")
    return redirect("organization_members", organization_slug=organization_slug)


@require_http_methods(["GET", "POST"])
@login_required
def member_remove(request: AuthenticatedRequest, organization_slug: str, membership_id: int) -> HttpResponse:
    membership = organization_scope(request, organization_slug, action=Action.MANAGE_MEMBERS)
    target = selectors.organization_member(organization=membership.organization, membership_id=membership_id)
    permissions.require_manage_member(membership, target)
    error = ""
    if request.method == "POST":
        try:
            services.membership_remove(membership=target, by=membership, actor=Actor.from_request(request))
        except ValidationError as refused:
            error = " ".join(refused.messages)
        else:
            removed = f"{target.user.email} was removed from {membership.organization.name}."
            if target.pk == membership.pk:
                return modal_done(request, reverse("home"), removed)
            return modal_done(request, reverse("organization_members", args=[organization_slug]), removed)
    return render(
        request,
        "console/member_remove.html",
        {**settings_context(membership, "members"), "target": target, "error": error},
    )


@require_http_methods(["GET", "POST"])
@login_required
def organization_leave(request: AuthenticatedRequest, organization_slug: str) -> HttpResponse:
    """Any member may leave, except the last owner."""
    membership = organization_scope(request, organization_slug)
    error = ""
    if request.method == "POST":
        try:
            services.membership_leave(membership=membership, actor=Actor.from_request(request))
        except ValidationError as refused:
            error = " ".join(refused.messages)
        else:
            request.session.pop(LAST_ORGANIZATION_SESSION_KEY, None)
            return modal_done(request, reverse("home"), f"You left {membership.organization.name}.")
    return render(
        request,
        "console/organization_leave.html",
        {**settings_context(membership, "general"), "error": error},
    )


@require_http_methods(["GET", "POST"])
@login_required
def invitation_create(request: AuthenticatedRequest, organization_slug: str) -> HttpResponse:
    """Invite by email with a role; the link goes to that address only (the embedded mode also
    shows it here, labelled as a development convenience)."""
    membership = organization_scope(request, organization_slug, action=Action.MANAGE_MEMBERS)
    organization = membership.organization
    form = InvitationForm(request.POST or None, roles=permissions.assignable_roles(membership))
    if request.method == "POST" and form.is_valid():
        try:
            invitation, link = services.invitation_send(
                organization=organization,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                by=membership,
                actor=Actor.from_request(request),
                link_for=lambda token: request.build_absolute_uri(reverse("invitation_accept", args=[token])),
            )
        except ValidationError as error:
            form_errors_add(form, error)
        else:
            response = render(
                request,
                "console/invitation_created.html",
                {
                    **settings_context(membership, "members"),
                    "invitation": invitation,
                    "link": link if settings.SHOW_INVITATION_LINKS else "",
                },
            )
            add_never_cache_headers(response)
            return trigger_client_event(response, "invitationCreated")
    return render(
        request, "console/invitation_create.html", {**settings_context(membership, "members"), "form": form}
    )


@require_POST
@login_required
def invitation_revoke(
    request: AuthenticatedRequest, organization_slug: str, invitation_id: int
) -> HttpResponse:
    membership = organization_scope(request, organization_slug, action=Action.MANAGE_MEMBERS)
    invitation = selectors.organization_invitation(
        organization=membership.organization, invitation_id=invitation_id
    )
    try:
        services.invitation_revoke(invitation=invitation, by=membership, actor=Actor.from_request(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request, f"The invitation to {invitation.email} was revoked; its link no longer works."
        )
    return redirect("organization_members", organization_slug=organization_slug)


# The invitation link and sign-up (no organization in the URL: the token is the credential) ------


@never_cache  # its address is the credential
@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
def invitation_accept(request: HtmxHttpRequest, token: str) -> HttpResponse:
    """Where the invitation link leads: sign up, log in, or accept, as the visitor's state allows."""
    # The token is the credential: visits per client address are limited, so it cannot be guessed.
    try:
        rate_limit_consume(name="invitation_accept", identity=client_ip(request) or "-")
    except RateLimited as limited:
        return limited.respond(_invitation_refused(request, limited.message, status=429))
    invitation = selectors.invitation_for_token(token=token)
    if invitation is None:
        return _invitation_refused(
            request,
            "This invitation link is not valid. Check that you copied the whole link, "
            "or ask an admin of the organization for a new invitation.",
            status=404,
        )
    if problem := services.invitation_problem(invitation):
        return _invitation_refused(request, problem, status=410)
    user = request.user
    if isinstance(user, User):
        return _invitation_for_signed_in_user(request, invitation, user)
    # The same page whether or not the address has an account (issue 19.9): sign up, or log in.
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            new_user = services.invitation_sign_up(
                invitation=invitation,
                name=form.cleaned_data["name"],
                password=form.cleaned_data["password1"],
                actor=Actor.from_request(request),
            )
        except ValidationError as error:
            _sign_up_errors_add(form, error)
        else:
            login(request, new_user, backend=MODEL_BACKEND)
            messages.success(
                request,
                f"Welcome! You joined {invitation.organization.name} as {invitation.get_role_display()}.",
            )
            return redirect("organization_overview", organization_slug=invitation.organization.slug)
    return render(request, "console/invitation_accept.html", {"invitation": invitation, "form": form})


def _invitation_for_signed_in_user(
    request: HtmxHttpRequest, invitation: Invitation, user: User
) -> HttpResponse:
    if user.email.lower() != invitation.email.lower():
        return render(
            request,
            "console/invitation_accept.html",
            {"invitation": invitation, "wrong_account": True},
            status=403,
        )
    error = ""
    if request.method == "POST":
        try:
            services.invitation_accept(invitation=invitation, user=user, actor=Actor.from_request(request))
        except ValidationError as refused:
            error = " ".join(refused.messages)
        else:
            messages.success(
                request, f"You joined {invitation.organization.name} as {invitation.get_role_display()}."
            )
            return redirect("organization_overview", organization_slug=invitation.organization.slug)
    return render(request, "console/invitation_accept.html", {"invitation": invitation, "error": error})


def _invitation_refused(request: HtmxHttpRequest, message: str, *, status: int) -> HttpResponse:
    return render(request, "console/invitation_refused.html", {"message": message}, status=status)


def _sign_up_errors_add(form: SignUpForm, error: ValidationError) -> None:
    """The service names the password ``password``; the form shows it on the first password field."""
    if hasattr(error, "error_dict"):
        renamed = {
            ("password1" if field == "password" else field): errors
            for field, errors in error.message_dict.items()
        }
        error = ValidationError(renamed)
    form_errors_add(form, error)


@require_http_methods(["GET", "POST"])
def signup(request: HtmxHttpRequest) -> HttpResponse:
    """Open self-service sign-up when ``ALLOW_SIGNUP`` is on; otherwise accounts come from invitations.

    The address gets an email either way (a link to finish, or how to log in to the account it
    has), and the page says the same either way: it tells nothing about which addresses exist."""
    if request.user.is_authenticated:
        return redirect("home")
    if not settings.ALLOW_SIGNUP:
        return render(request, "registration/signup_closed.html", status=403)
    form = SignUpEmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        try:
            services.account_email_throttle(email=email, ip_address=client_ip(request))
        except RateLimited as limited:
            form.add_error(None, limited.message)
            return limited.respond(render(request, "registration/signup.html", {"form": form}))
        services.signup_email_send(
            email=email,
            link_for=lambda token: request.build_absolute_uri(reverse("signup_finish", args=[token])),
            login_url=request.build_absolute_uri(reverse("login")),
            password_reset_url=request.build_absolute_uri(reverse("password_reset")),
        )
        return redirect("signup_sent")
    return render(request, "registration/signup.html", {"form": form})


@require_GET
def signup_sent(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "registration/signup_sent.html")


@never_cache
@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
def signup_finish(request: HtmxHttpRequest, token: str) -> HttpResponse:
    """Where the emailed sign-up link leads: choose a name and password for the address it went to."""
    if not settings.ALLOW_SIGNUP:
        return render(request, "registration/signup_closed.html", status=403)
    if request.user.is_authenticated:
        return redirect("home")
    email = selectors.signup_email_for_token(token=token)
    if email is None:
        return render(request, "registration/signup_link_invalid.html", status=404)
    if selectors.account_exists(email=email):  # the link was used (only its recipient has it)
        return render(request, "registration/signup_link_invalid.html", {"used_by": email}, status=410)
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_sign_up(
                email=email, name=form.cleaned_data["name"], password=form.cleaned_data["password1"]
            )
        except ValidationError as error:
            _sign_up_errors_add(form, error)
        else:
            login(request, user, backend=MODEL_BACKEND)
            messages.success(request, "Your account is ready. Create an organization to start.")
            return redirect("home")
    return render(request, "registration/signup_finish.html", {"form": form, "email": email})
