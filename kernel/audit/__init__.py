"""The audit trail: who changed what, append-only and hash-chained per tenant.

Services record a mutation with :func:`record` in the transaction that makes it; :func:`verify_chain`
and :func:`verify_all` tell whether anyone altered the trail since.
"""

from kernel.audit.service import ChainHead, chain_head, record, verify_all, verify_chain

__all__ = ["ChainHead", "chain_head", "record", "verify_all", "verify_chain"]
