"""The products pages: the catalog (search by name or SKU, prices in their currency), the product form
(prices typed the way people write them, "49,90" or "49.90"), CSV import with a result per line, and
the CSV export (the API's own address, which the session cookie opens)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

from litestar import Request, Response, delete, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.sdk import Conflict, ValidationFailed, gettext, render_page
from kernel.web.listing import Listing
from kernel.web.shell import form_values, fragment, hx_redirect
from plugins.knowledge.models import Product
from plugins.knowledge.products import CURRENCIES, ProductService, parse_price
from plugins.knowledge.views_shared import (
    PRODUCT_READ,
    PRODUCT_WRITE,
    can,
    form_errors,
    import_line_message,
    pair_rows,
    pairs,
    targets,
    trigger,
)

__all__ = ["ROUTES"]

PRODUCTS = "/app/knowledge/products"
EXPORT = "/api/v1/knowledge/products/export.csv"
TABLE_ID = "products-table"
IMPORT_BODY_LIMIT = 20 * 1024 * 1024
FIELDS = ("name", "sku", "description", "price", "currency", "stock", "active", "attributes")


def _listing(request: Request[Any, Any, Any]) -> Listing:
    listing = Listing.from_request(request, sorts=("name",), default_sort="name", filters=("active",), per_page=25)
    chosen = dict(listing.filters)
    if chosen.get("active") not in (None, "yes", "no"):
        chosen.pop("active")
    return replace(listing, filters=chosen)


async def _table_context(session: AsyncSession, listing: Listing) -> dict[str, Any]:
    active = {"yes": True, "no": False}.get(listing.filters.get("active", ""))
    service = ProductService(session)
    rows, total = await service.list(
        query=listing.q or None, active=active, limit=listing.per_page, offset=listing.offset
    )
    listing = replace(listing, total=total)
    if not rows and total and listing.page > listing.pages:
        listing = replace(listing, page=listing.pages)
        rows, total = await service.list(
            query=listing.q or None, active=active, limit=listing.per_page, offset=listing.offset
        )
    return {"listing": listing, "rows": rows, "products_path": PRODUCTS, "export_url": EXPORT}


@get("/products", opt=PRODUCT_READ)
async def products_page(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    context = await _table_context(db_session, _listing(request))
    if targets(request, TABLE_ID):
        return fragment(request, "knowledge/_products_table.html", **context)
    return render_page(request, "knowledge/products.html", import_errors={}, import_result=None, **context)


@post("/products/import", opt=PRODUCT_WRITE, status_code=200, request_max_body_size=IMPORT_BODY_LIMIT)
async def products_import(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Template:
    """Rows matched by SKU update their product, the others are added; each bad line says why."""
    form = await form_values(request)
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise ValidationFailed("Choose a CSV file.", errors=[{"field": "file", "message": "required"}])
        result = await ProductService(db_session).import_csv(await upload.read())
    except ValidationFailed as exc:
        errors = form_errors(exc, ("file",))
        if not isinstance(upload, UploadFile):
            errors["file"] = gettext("Choose a CSV file.")
        return fragment(
            request, "knowledge/_products_import.html", status_code=422, import_errors=errors, import_result=None
        )
    lines = [(error.get("line"), import_line_message(error)) for error in result.errors]
    answer = fragment(
        request,
        "knowledge/_products_import.html",
        import_errors={},
        import_result={"created": result.created, "updated": result.updated, "errors": lines},
    )
    message = gettext(
        "Import done: %(created)d added, %(updated)d updated.", created=result.created, updated=result.updated
    )
    answer.headers.update(trigger(message, "success" if not lines else "warning", "products-changed"))
    return answer


# --- the product form ---------------------------------------------------------------------------


def _values(product: Product | None) -> dict[str, Any]:
    if product is None:
        return {
            "name": "",
            "sku": "",
            "description": "",
            "price": "",
            "currency": "BRL",
            "stock": "",
            "active": True,
            "attributes": pair_rows({}),
        }
    return {
        "name": product.name,
        "sku": product.sku or "",
        "description": product.description,
        "price": None,  # drawn from price_cents in the reader's number format
        "price_cents": product.price_cents,
        "currency": product.currency,
        "stock": "" if product.stock is None else str(product.stock),
        "active": product.active,
        "attributes": pair_rows(product.attributes),
    }


def _typed(form: Any) -> dict[str, Any]:
    keys, values = form.getall("attribute_key", []), form.getall("attribute_value", [])
    return {
        "name": str(form.get("name") or ""),
        "sku": str(form.get("sku") or ""),
        "description": str(form.get("description") or ""),
        "price": str(form.get("price") or ""),
        "currency": str(form.get("currency") or "BRL"),
        "stock": str(form.get("stock") or ""),
        "active": form.get("active") in ("on", "true", "1"),
        "attributes": [(str(k), str(v)) for k, v in zip(keys, values, strict=False)] or [("", "")],
    }


def _changes(form: Any, typed: dict[str, Any]) -> dict[str, Any]:
    stock_text = typed["stock"].strip()
    try:
        stock = int(stock_text) if stock_text else None
    except ValueError:
        raise ValidationFailed(
            "Stock is a whole number, or empty when not tracked.", errors=[{"field": "stock", "message": "invalid"}]
        ) from None
    return {
        "name": typed["name"],
        "sku": typed["sku"],
        "description": typed["description"],
        "price_cents": parse_price(typed["price"], field="price"),
        "currency": typed["currency"],
        "stock": stock,
        "active": typed["active"],
        "attributes": pairs(form, "attribute_key", "attribute_value"),
    }


def _form_context(
    request: Request[Any, Any, Any],
    product: Product | None,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "product": product,
        "values": values or _values(product),
        "errors": errors or {},
        "currencies": CURRENCIES,
        "can_write": can(request, PRODUCT_WRITE["permission"]),
        "products_path": PRODUCTS,
    }


def _errors(exc: Exception) -> dict[str, str]:
    errors = form_errors(exc, (*FIELDS, "price_cents"))  # type: ignore[arg-type]
    if "price_cents" in errors:
        errors["price"] = errors.pop("price_cents")
    return errors


@get("/products/new", opt=PRODUCT_WRITE)
async def product_new_page(request: Request[Any, Any, Any]) -> Template:
    return render_page(request, "knowledge/product.html", **_form_context(request, None))


@post("/products/new", opt=PRODUCT_WRITE, status_code=200)
async def product_create(request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession]) -> Response[Any]:
    form = await form_values(request)
    typed = _typed(form)
    try:
        product = await ProductService(db_session).create(**_changes(form, typed))
    except (ValidationFailed, Conflict) as exc:
        await db_session.rollback()
        context = _form_context(request, None, values=typed, errors=_errors(exc))
        return fragment(request, "knowledge/_product_form.html", status_code=422, **context)
    return hx_redirect(request, PRODUCTS, message=gettext("Product %(name)s added.", name=product.name))


@get("/products/{product_id:uuid}", opt=PRODUCT_READ)
async def product_page(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], product_id: FromPath[UUID]
) -> Template:
    product = await ProductService(db_session).get(product_id)
    return render_page(request, "knowledge/product.html", **_form_context(request, product))


@post("/products/{product_id:uuid}", opt=PRODUCT_WRITE, status_code=200)
async def product_save(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], product_id: FromPath[UUID]
) -> Response[Any]:
    service = ProductService(db_session)
    product = await service.get(product_id)
    form = await form_values(request)
    typed = _typed(form)
    try:
        product = await service.update(product.id, **_changes(form, typed))
    except (ValidationFailed, Conflict) as exc:
        await db_session.rollback()
        product = await service.get(product_id)
        context = _form_context(request, product, values=typed, errors=_errors(exc))
        return fragment(request, "knowledge/_product_form.html", status_code=422, **context)
    return hx_redirect(request, PRODUCTS, message=gettext("Product %(name)s saved.", name=product.name))


@delete("/products/{product_id:uuid}", opt=PRODUCT_WRITE, status_code=200)
async def product_delete(
    request: Request[Any, Any, Any], db_session: NamedDependency[AsyncSession], product_id: FromPath[UUID]
) -> Response[Any]:
    service = ProductService(db_session)
    product = await service.get(product_id)
    name = product.name
    await service.delete(product.id)
    return hx_redirect(request, PRODUCTS, message=gettext("Product %(name)s deleted.", name=name))


ROUTES = [products_page, products_import, product_new_page, product_create, product_page, product_save, product_delete]
