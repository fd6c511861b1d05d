"""Words for the audit trail's actions and targets, so people read "Invited a user", not ``user.invited``.

An action without a label (a plugin's own) shows its code, which still reads well: ``<noun>.<verb>``.
"""

from __future__ import annotations

from kernel.i18n.catalogs import N_, current_translator

__all__ = ["ACTION_LABELS", "FIELD_LABELS", "TARGET_LABELS", "action_label", "field_label", "target_label"]

ACTION_LABELS: dict[str, str] = {
    "organization.created": N_("Created the organization"),
    "organization.registered": N_("Registered the organization"),
    "organization.updated": N_("Changed the company profile"),
    "organization.logo_changed": N_("Changed the logo"),
    "organization.logo_removed": N_("Removed the logo"),
    "organization.suspended": N_("Suspended the organization"),
    "organization.activated": N_("Reactivated the organization"),
    "organization.plan_changed": N_("Changed the plan"),
    "onboarding.dismissed": N_("Hid the first steps"),
    "user.invited": N_("Invited a user"),
    "user.updated": N_("Changed a user"),
    "user.deactivated": N_("Deactivated a user"),
    "user.invitation_resent": N_("Sent the invitation again"),
    "user.sessions_ended": N_("Ended a user's sessions"),
    "user.session_ended": N_("Ended a session"),
    "user.invitation_accepted": N_("Accepted the invitation"),
    "user.password_reset": N_("Reset the password with a mailed link"),
    "user.password_changed": N_("Changed the password"),
    "auth.refresh_reused": N_("A copied session was detected and ended"),
    "role.created": N_("Created a role"),
    "role.updated": N_("Changed a role"),
    "role.deleted": N_("Deleted a role"),
    "api_token.created": N_("Created an API token"),
    "api_token.revoked": N_("Revoked an API token"),
    "plugin.enabled": N_("Enabled a module"),
    "plugin.disabled": N_("Disabled a module"),
    "plugin.settings_changed": N_("Changed a module's settings"),
    "secret.set": N_("Saved a secret"),
    "secret.deleted": N_("Removed a secret"),
    "organization.ai_settings_changed": N_("Changed the AI settings"),
    "plan.created": N_("Created a plan"),
    "plan.updated": N_("Changed a plan"),
    "plan.deleted": N_("Deleted a plan"),
    "platform.registration_changed": N_("Changed who may register"),
    "platform.ai_defaults_changed": N_("Changed the AI defaults"),
    "plugin.defaults_changed": N_("Changed a module's defaults"),
    "platform.impersonation_started": N_("Started acting as a user"),
    "platform.impersonation_ended": N_("Stopped acting as a user"),
}

TARGET_LABELS: dict[str, str] = {
    "organization": N_("Organization"),
    "user": N_("User"),
    "role": N_("Role"),
    "api_token": N_("API token"),
    "plugin": N_("Module"),
    "secret": N_("Secret"),
    "plan": N_("Plan"),
    "platform": N_("Platform"),
}


FIELD_LABELS: dict[str, str] = {
    "name": N_("Name"),
    "email": N_("Email"),
    "role": N_("Role"),
    "language": N_("Language"),
    "is_active": N_("Active"),
    "key": N_("Key"),
    "description": N_("Description"),
    "permissions": N_("Permissions"),
    "expires_at": N_("Expires"),
    "family_id": N_("Session"),
    "hint": N_("Masked value"),
}
"""Words for the changed fields an entry lists; a field not named here shows its name."""


def field_label(field: str) -> str:
    msgid = FIELD_LABELS.get(field)
    return current_translator().gettext(msgid) if msgid else field


def action_label(action: str) -> str:
    msgid = ACTION_LABELS.get(action)
    return current_translator().gettext(msgid) if msgid else action


def target_label(target_type: str) -> str:
    msgid = TARGET_LABELS.get(target_type)
    return current_translator().gettext(msgid) if msgid else target_type
