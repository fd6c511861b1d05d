"""The route options (``opt``) of the knowledge plugin's API and pages: which permission each needs."""

from __future__ import annotations

__all__ = ["FAQ_READ", "FAQ_WRITE", "MANAGE", "PRODUCT_READ", "PRODUCT_WRITE", "READ", "WRITE"]

READ = {"permission": "knowledge.document.read"}
WRITE = {"permission": "knowledge.document.write"}
MANAGE = {"permission": "knowledge.collection.manage"}
FAQ_READ = {"permission": "knowledge.faq.read"}
FAQ_WRITE = {"permission": "knowledge.faq.write"}
PRODUCT_READ = {"permission": "knowledge.product.read"}
PRODUCT_WRITE = {"permission": "knowledge.product.write"}
