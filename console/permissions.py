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
    MANAGE_ORGANIZATION = "manage_organization"  # rename, audit log
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
