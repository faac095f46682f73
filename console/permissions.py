"""Who may do what, by role (DESIGN.md section 4). The one place role checks live.

Views call ``require(membership, Action.X)``; templates ask ``membership|can:"x"``;
services receive an already-authorised actor.
"""

from __future__ import annotations

from enum import StrEnum

from django.core.exceptions import PermissionDenied

from console.models import Membership, Role

# Higher is more powerful.
RANK = {Role.VIEWER: 0, Role.DEVELOPER: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Action(StrEnum):
    VIEW = "view"
    CREATE_PROJECT = "create_project"
    MANAGE_API_KEYS = "manage_api_keys"
    CONFIGURE_PRODUCTS = "configure_products"
    MANAGE_PROJECT = "manage_project"  # rename, delete
    MANAGE_MEMBERS = "manage_members"
    MANAGE_ORGANIZATION = "manage_organization"  # rename
    VIEW_AUDIT_LOG = "view_audit_log"
    MANAGE_OWNERS = "manage_owners"
    DELETE_ORGANIZATION = "delete_organization"


MINIMUM_ROLE: dict[Action, Role] = {
    Action.VIEW: Role.VIEWER,
    Action.CREATE_PROJECT: Role.DEVELOPER,
    Action.MANAGE_API_KEYS: Role.DEVELOPER,
    Action.CONFIGURE_PRODUCTS: Role.DEVELOPER,
    Action.MANAGE_PROJECT: Role.ADMIN,
    Action.MANAGE_MEMBERS: Role.ADMIN,
    Action.MANAGE_ORGANIZATION: Role.ADMIN,
    Action.VIEW_AUDIT_LOG: Role.ADMIN,
    Action.MANAGE_OWNERS: Role.OWNER,
    Action.DELETE_ORGANIZATION: Role.OWNER,
}


def role_allows(role: str, action: Action | str) -> bool:
    """Whether a member with this role may perform the action."""
    return RANK[Role(role)] >= RANK[MINIMUM_ROLE[Action(action)]]


def can(membership: Membership, action: Action | str) -> bool:
    return role_allows(membership.role, action)


def require(membership: Membership, action: Action | str) -> None:
    """Raise PermissionDenied (403) unless the membership allows the action."""
    if not can(membership, action):
        raise PermissionDenied(f"Your role ({membership.get_role_display()}) does not allow this.")


def can_assign_role(membership: Membership, role: str) -> bool:
    """Whether the member may give (or take away) this role: admins manage members, owners also owners."""
    if role == Role.OWNER:
        return can(membership, Action.MANAGE_OWNERS)
    return can(membership, Action.MANAGE_MEMBERS)


def assignable_roles(membership: Membership) -> list[Role]:
    """The roles the member may assign, most powerful first."""
    return [
        role for role in sorted(Role, key=RANK.__getitem__, reverse=True) if can_assign_role(membership, role)
    ]


def can_manage_member(membership: Membership, target: Membership) -> bool:
    """Whether the member may change the target's role or remove them (an admin cannot touch an owner)."""
    return can_assign_role(membership, target.role)


def require_manage_member(membership: Membership, target: Membership) -> None:
    """Raise PermissionDenied unless the member may change or remove the target member."""
    require(membership, Action.MANAGE_MEMBERS)
    if not can_manage_member(membership, target):
        raise PermissionDenied("Only an owner can change or remove an owner.")


def require_assign_role(membership: Membership, role: str) -> None:
    """Raise PermissionDenied unless the member may give this role to someone."""
    require(membership, Action.MANAGE_MEMBERS)
    if not can_assign_role(membership, role):
        raise PermissionDenied("Only an owner can make someone an owner.")
