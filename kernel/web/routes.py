"""Every route the kernel serves itself: JSON API controllers and the shell's pages, area by area.

Each area keeps its handlers in a ``ROUTES`` list beside its code (``kernel/<area>/api.py`` for JSON,
``views.py`` for pages); this is the one place that gathers them for :func:`kernel.app.create_app`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["kernel_routes"]


def kernel_routes() -> list[Any]:
    from kernel.admin import api as admin_api
    from kernel.admin import defaults as admin_defaults
    from kernel.admin import views as admin_views
    from kernel.audit import views as audit_views
    from kernel.auth import views as auth_views
    from kernel.llm import api as llm_api
    from kernel.llm import views as llm_views
    from kernel.notifications import api as notifications_api
    from kernel.notifications import views as notifications_views
    from kernel.tenancy import (
        modules_api,
        modules_views,
        onboarding_views,
        profile_api,
        profile_views,
        registration_views,
    )
    from kernel.web import media, pages, styleguide

    areas = (
        pages,
        media,
        styleguide,
        auth_views,
        profile_api,
        profile_views,
        modules_api,
        modules_views,
        llm_api,
        llm_views,
        admin_api,
        admin_views,
        admin_defaults,
        audit_views,
        notifications_api,
        notifications_views,
        registration_views,
        onboarding_views,
    )
    return [handler for area in areas for handler in area.ROUTES]
