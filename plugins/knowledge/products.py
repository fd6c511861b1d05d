"""The product catalog: what the general agent quotes for price and stock questions.

Prices are integer cents with an ISO currency. Search is by SKU first (exact, case-insensitive),
then by full text over name, SKU and description (unaccented Portuguese, the SKU as a plain token),
then by trigram similarity of the name for typos.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from sqlalchemy import delete, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kernel.sdk import N_, Conflict, NotFound, ValidationFailed, audit, emit
from plugins.knowledge.csvfiles import read_dicts
from plugins.knowledge.events import PRODUCT_UPDATED, ProductChanged
from plugins.knowledge.models import Document, Product, ProductDocument

__all__ = ["CSV_COLUMNS", "ProductImport", "ProductService", "format_price", "parse_price"]

CSV_COLUMNS = ("sku", "name", "description", "price", "currency", "stock", "active", "attributes")
MAX_IMPORT_ROWS = 10000
MAX_IMAGES = 20
IMAGE_REFUSALS = {
    "empty": N_("Choose an image file to upload."),
    "too_large": N_("A product image can be at most 8 MB."),
    "svg": N_("SVG images are not accepted: upload PNG, JPEG, WebP or GIF."),
    "too_many_pixels": N_("This image is too large: use one of at most 4000 by 4000 pixels."),
    "unreadable": N_("This file is not an image we can read: upload a PNG, JPEG, WebP or GIF."),
}
CURRENCIES = ("BRL", "USD", "EUR", "ARS", "CLP", "COP", "MXN", "PEN", "UYU", "PYG", "BOB")


def parse_price(value: str | int | float | None, *, field: str = "price") -> int:
    """``"1.234,56"``, ``"1234.56"``, ``"R$ 99,90"`` or a number → cents."""
    if value is None or value == "":
        return 0
    if isinstance(value, int):
        return value * 100
    raw = str(value).strip()
    for symbol in ("R$", "US$", "$", "€", "BRL", "USD", "EUR"):
        raw = raw.replace(symbol, "")
    raw = raw.replace(" ", "")
    if "," in raw and "." in raw:
        raw = raw.replace(".", "").replace(",", ".") if raw.rfind(",") > raw.rfind(".") else raw.replace(",", "")
    elif "," in raw:
        raw = raw.replace(",", ".")
    try:
        amount = Decimal(raw)
    except InvalidOperation:
        raise ValidationFailed(
            "%(value)s is not a price.", errors=[{"field": field, "message": "invalid"}], value=str(value)
        ) from None
    if amount < 0:
        raise ValidationFailed("A price cannot be negative.", errors=[{"field": field, "message": "negative"}])
    return int((amount * 100).quantize(Decimal(1)))


def format_price(cents: int) -> str:
    """Cents as a plain decimal with a dot (``1234.50``), as the CSV export writes it."""
    return f"{cents // 100}.{cents % 100:02d}"


@dataclass(frozen=True)
class ProductImport:
    created: int
    updated: int
    errors: list[dict[str, Any]]


def _changed(product: Product, *, deleted: bool = False) -> ProductChanged:
    return ProductChanged(
        product_id=product.id,
        name=product.name,
        sku=product.sku,
        price_cents=product.price_cents,
        currency=product.currency,
        stock=product.stock,
        active=product.active,
        deleted=deleted,
    )


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    if "name" in values:
        name = " ".join(str(values["name"] or "").split())
        if not name:
            raise ValidationFailed("Fill in the product's name.", errors=[{"field": "name", "message": "required"}])
        clean["name"] = name[:200]
    if "sku" in values:
        sku = str(values["sku"] or "").strip()
        clean["sku"] = sku[:80] or None
    if "description" in values:
        clean["description"] = str(values["description"] or "").strip()
    if "price_cents" in values:
        cents = values["price_cents"]
        if not isinstance(cents, int) or isinstance(cents, bool) or cents < 0:
            raise ValidationFailed(
                "The price is a whole number of cents, zero or more.",
                errors=[{"field": "price_cents", "message": "invalid"}],
            )
        clean["price_cents"] = cents
    if "currency" in values:
        currency = str(values["currency"] or "BRL").strip().upper()
        if currency not in CURRENCIES:
            raise ValidationFailed(
                "Unknown currency %(currency)s.",
                errors=[{"field": "currency", "message": "invalid"}],
                currency=currency,
            )
        clean["currency"] = currency
    if "stock" in values:
        stock = values["stock"]
        if stock is not None and (not isinstance(stock, int) or isinstance(stock, bool)):
            raise ValidationFailed(
                "Stock is a whole number, or empty when not tracked.", errors=[{"field": "stock", "message": "invalid"}]
            )
        clean["stock"] = stock
    if "attributes" in values:
        attributes = values["attributes"] or {}
        if not isinstance(attributes, dict) or len(attributes) > 50:
            raise ValidationFailed(
                "Attributes are up to 50 name and value pairs.", errors=[{"field": "attributes", "message": "invalid"}]
            )
        clean["attributes"] = {str(k)[:60]: str(v)[:300] for k, v in attributes.items()}
    if "images" in values:
        images = values["images"] or []
        if not isinstance(images, list) or len(images) > 20:
            raise ValidationFailed("Up to 20 images.", errors=[{"field": "images", "message": "invalid"}])
        clean["images"] = [str(image)[:400] for image in images]
    if "active" in values:
        clean["active"] = bool(values["active"])
    return clean


class ProductService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list(
        self, *, query: str | None = None, active: bool | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[Product], int]:
        statement = select(Product)
        if active is not None:
            statement = statement.where(Product.active.is_(active))
        order: list[Any] = [Product.name, Product.id]
        if query and query.strip():
            term = query.strip()[:200]
            folded = func.atendai_unaccent(func.lower(term))
            name = literal_column("knowledge_products.name_key")
            statement = statement.where(
                (func.lower(Product.sku) == term.lower())
                | name.contains(folded)
                | (func.word_similarity(folded, name) >= 0.45)
            )
            order = [func.word_similarity(folded, name).desc(), *order]
        total = (await self.session.execute(select(func.count()).select_from(statement.subquery()))).scalar_one()
        rows = await self.session.execute(statement.order_by(*order).limit(limit).offset(offset))
        return list(rows.scalars()), total

    async def get(self, product_id: UUID) -> Product:
        found = await self.session.get(Product, product_id)
        if found is None:
            raise NotFound("Product not found.")
        return found

    async def _unique_sku(self, sku: str | None, exclude: UUID | None = None) -> None:
        if not sku:
            return
        statement = select(Product.id).where(func.lower(Product.sku) == sku.lower())
        if exclude:
            statement = statement.where(Product.id != exclude)
        if (await self.session.execute(statement)).first():
            raise Conflict(
                "Another product already has the SKU %(sku)s.", errors=[{"field": "sku", "message": "taken"}], sku=sku
            )

    async def create(self, **values: Any) -> Product:
        values.setdefault("currency", "BRL")
        clean = _clean({"name": values.get("name"), **values})
        await self._unique_sku(clean.get("sku"))
        document_ids = values.get("document_ids") or []
        product = Product(
            **{
                "description": "",
                "price_cents": 0,
                "attributes": {},
                "images": [],
                "active": True,
                **clean,
            }
        )
        self.session.add(product)
        await self.session.flush()
        await self._link(product, document_ids)
        await emit(self.session, PRODUCT_UPDATED, _changed(product))
        await audit(
            self.session,
            action="knowledge.product.created",
            target_type="knowledge_product",
            target_id=product.id,
            after={"name": product.name, "sku": product.sku, "price_cents": product.price_cents},
        )
        return product

    async def update(self, product_id: UUID, **values: Any) -> Product:
        product = await self.get(product_id)
        document_ids = values.pop("document_ids", None)
        clean = _clean(values)
        if "sku" in clean:
            await self._unique_sku(clean["sku"], exclude=product.id)
        before = {key: getattr(product, key) for key in clean}
        for key, value in clean.items():
            setattr(product, key, value)
        await self.session.flush()
        if document_ids is not None:
            await self._link(product, document_ids, replace=True)
        await emit(self.session, PRODUCT_UPDATED, _changed(product))
        await audit(
            self.session,
            action="knowledge.product.updated",
            target_type="knowledge_product",
            target_id=product.id,
            before=before,
            after=clean,
        )
        return product

    async def _link(self, product: Product, document_ids: Sequence[UUID], *, replace: bool = False) -> None:
        if replace:
            await self.session.execute(delete(ProductDocument).where(ProductDocument.product_id == product.id))
        wanted = list(dict.fromkeys(document_ids))
        if not wanted:
            return
        found = set((await self.session.execute(select(Document.id).where(Document.id.in_(wanted)))).scalars())
        missing = [str(d) for d in wanted if d not in found]
        if missing:
            raise ValidationFailed(
                "Some linked documents do not exist.", errors=[{"field": "document_ids", "message": "not found"}]
            )
        self.session.add_all(ProductDocument(product_id=product.id, document_id=d) for d in wanted)
        await self.session.flush()

    async def documents(self, product_id: UUID) -> list[UUID]:
        rows = await self.session.execute(
            select(ProductDocument.document_id).where(ProductDocument.product_id == product_id)
        )
        return list(rows.scalars())

    async def delete(self, product_id: UUID) -> None:
        product = await self.get(product_id)
        await emit(self.session, PRODUCT_UPDATED, _changed(product, deleted=True))
        await audit(
            self.session,
            action="knowledge.product.deleted",
            target_type="knowledge_product",
            target_id=product.id,
            before={"name": product.name, "sku": product.sku},
        )
        await self.session.delete(product)
        await self.session.flush()

    async def add_image(
        self, product_id: UUID, data: bytes, *, filename: str | None = None, content_type: str | None = None
    ) -> Product:
        """Store a picture of the product (cleaned to a PNG within 1200 px, public so channels can send it)."""
        import asyncio

        from kernel.sdk import ImageRefused, clean_image, require_tenant_id, storage, tenant_storage_key

        product = await self.get(product_id)
        if len(product.images or []) >= MAX_IMAGES:
            raise ValidationFailed(
                "A product has at most %(count)d images.",
                errors=[{"field": "file", "message": "too many"}],
                count=MAX_IMAGES,
            )
        try:
            png = await asyncio.to_thread(
                clean_image,
                data,
                max_bytes=8 * 1024 * 1024,
                max_side=1200,
                filename=filename,
                content_type=content_type,
            )
        except ImageRefused as refused:
            raise ValidationFailed(
                IMAGE_REFUSALS.get(refused.reason, IMAGE_REFUSALS["unreadable"]),
                errors=[{"field": "file", "message": refused.reason}],
            ) from None
        key = tenant_storage_key(require_tenant_id(), "products/image.png", png, visibility="public")
        await storage().put(key, png, "image/png")
        if key not in (product.images or []):
            product.images = [*(product.images or []), key]
        await self.session.flush()
        await emit(self.session, PRODUCT_UPDATED, _changed(product))
        return product

    async def remove_image(self, product_id: UUID, key: str) -> Product:
        product = await self.get(product_id)
        if key not in (product.images or []):
            raise NotFound("That image is not one of the product's.")
        product.images = [image for image in product.images if image != key]
        await self.session.flush()
        await emit(self.session, PRODUCT_UPDATED, _changed(product))
        return product

    async def search(self, query: str | None = None, *, sku: str | None = None, limit: int = 5) -> list[Product]:
        """Active products for a customer's question: the SKU exactly, else full text, else a close name."""
        if sku and sku.strip():
            found = (
                (
                    await self.session.execute(
                        select(Product).where(func.lower(Product.sku) == sku.strip().lower(), Product.active.is_(True))
                    )
                )
                .scalars()
                .all()
            )
            if found:
                return list(found)
        query = " ".join((query or sku or "").split())[:300]
        if not query:
            return []
        rows = await self.session.execute(
            text(
                "SELECT id FROM knowledge_products p, "
                "LATERAL (SELECT replace(plainto_tsquery('atendai_pt', :q)::text, '&', '|')::tsquery AS tsq) q "
                "WHERE p.active AND (lower(p.sku) = lower(:q) OR (q.tsq <> ''::tsquery AND p.tsv @@ q.tsq) "
                "OR word_similarity(atendai_unaccent(lower(:q)), p.name_key) >= 0.5) "
                "ORDER BY (lower(p.sku) = lower(:q)) DESC, "
                "CASE WHEN q.tsq <> ''::tsquery THEN ts_rank(p.tsv, q.tsq) ELSE 0 END DESC, "
                "word_similarity(atendai_unaccent(lower(:q)), p.name_key) DESC, p.name "
                "LIMIT :limit"
            ),
            {"q": query, "limit": max(1, min(limit, 20))},
        )
        ids = [row.id for row in rows]
        if not ids:
            return []
        found = {p.id: p for p in (await self.session.execute(select(Product).where(Product.id.in_(ids)))).scalars()}
        return [found[i] for i in ids if i in found]

    async def import_csv(self, data: bytes) -> ProductImport:
        """Create or update products from CSV (``sku`` matches existing products); a bad row is reported, not fatal."""
        reader = read_dicts(data)
        if not reader.fieldnames or "name" not in [name.strip().lower() for name in reader.fieldnames]:
            raise ValidationFailed(
                "The file needs a header row with at least a name column.",
                errors=[{"field": "file", "message": "no header"}],
            )
        created = updated = 0
        errors: list[dict[str, Any]] = []
        for number, raw in enumerate(reader, start=2):
            if number - 1 > MAX_IMPORT_ROWS:
                errors.append(
                    {"line": number, "message": N_("Too many rows: import the rest in another file."), "params": {}}
                )
                break
            row = {str(k).strip().lower(): (v or "").strip() for k, v in raw.items() if k}
            if not any(row.values()):
                continue
            try:
                values: dict[str, Any] = {"name": row.get("name", "")}
                if "sku" in row:
                    values["sku"] = row["sku"]
                if "description" in row:
                    values["description"] = row["description"]
                if "price" in row:
                    values["price_cents"] = parse_price(row["price"])
                if row.get("currency"):
                    values["currency"] = row["currency"]
                if "stock" in row:
                    values["stock"] = int(row["stock"]) if row["stock"] else None
                if row.get("active"):
                    values["active"] = row["active"].lower() not in ("0", "false", "no", "não", "nao", "inactive")
                if row.get("attributes"):
                    values["attributes"] = json.loads(row["attributes"])
                existing = None
                if values.get("sku"):
                    existing = (
                        await self.session.execute(
                            select(Product).where(func.lower(Product.sku) == str(values["sku"]).lower())
                        )
                    ).scalar_one_or_none()
                async with self.session.begin_nested():
                    if existing is None:
                        await self.create(**values)
                        created += 1
                    else:
                        await self.update(existing.id, **values)
                        updated += 1
            except (ValidationFailed, Conflict) as failure:
                errors.append({"line": number, "message": failure.detail, "params": dict(failure.params)})
            except ValueError:
                errors.append(
                    {"line": number, "message": N_("The stock or the attributes could not be read."), "params": {}}
                )
        return ProductImport(created=created, updated=updated, errors=errors)

    async def export_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        rows = await self.session.execute(select(Product).order_by(Product.name, Product.id))
        for product in rows.scalars():
            writer.writerow(
                [
                    product.sku or "",
                    product.name,
                    product.description,
                    format_price(product.price_cents),
                    product.currency,
                    "" if product.stock is None else product.stock,
                    "true" if product.active else "false",
                    json.dumps(product.attributes, ensure_ascii=False) if product.attributes else "",
                ]
            )
        return out.getvalue()
